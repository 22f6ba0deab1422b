"""A job's log explains its end: expected failures in one line, others with the traceback."""

import subprocess
import sys


def run_job(tmp_path, body: str) -> tuple[int, str]:
    script = tmp_path / "job.py"
    script.write_text(f"from advcgcnn.logs import setup\nlog = setup({str(tmp_path / 'job.log')!r})\n{body}\n")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    return proc.returncode, (tmp_path / "job.log").read_text()


def test_an_unexpected_error_leaves_its_traceback_in_the_log(tmp_path):
    code, log = run_job(tmp_path, "log.info('started')\n{}['missing']")
    assert code != 0
    assert "started" in log and "Traceback" in log and "KeyError: 'missing'" in log


def test_an_expected_failure_is_one_line_naming_what_to_change(tmp_path):
    code, log = run_job(
        tmp_path, "from advcgcnn.errors import DatasetError\nraise DatasetError('5 folds need 5 per class (lower train.folds)')"
    )
    assert code != 0
    lines = [line for line in log.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].endswith("ERROR advcgcnn: 5 folds need 5 per class (lower train.folds)")


def test_a_repeated_warning_is_logged_once_with_its_count(tmp_path):
    # A library that resets the warning filters repeats its warning at every step.
    body = "import warnings\nwarnings.simplefilter('always')\n"
    body += "for _ in range(50):\n    warnings.warn('logm result may be inaccurate')"
    code, log = run_job(tmp_path, body)
    assert code == 0
    assert log.count("UserWarning: logm result may be inaccurate") == 2  # the warning, then the summary line
    assert "repeated 49 more times" in log
