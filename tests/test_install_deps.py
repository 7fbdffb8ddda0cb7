"""`make up` installs what the DAGs need at run time; `make test` adds only what the tests need.

One script (scripts/install-deps.sh) holds both lists, so `make up`, `make test` and the image
cannot diverge on the runtime part.
"""

from __future__ import annotations

import subprocess

from tests.paths import PROJECT_DIR

SCRIPT = PROJECT_DIR / "scripts" / "install-deps.sh"


def listed(group: str) -> list[str]:
    out = subprocess.run([str(SCRIPT), "--list", group], capture_output=True, text=True, check=True).stdout
    return out.split()


def install_calls(path) -> list[list[str]]:
    """The words of each line of a script (a Dockerfile's RUN lines too) that runs install-deps.sh."""
    calls = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip().removeprefix("RUN ")
        for part in line.split("&&"):
            words = part.replace('"', "").split()
            if words and words[0].endswith("/install-deps.sh"):
                calls.append(words)
    return calls


def test_the_runtime_packages_hold_the_font_the_reports_find():
    from ta_scheduler.reports.fonts import find_cjk_font

    font = find_cjk_font()
    owner = subprocess.run(["dpkg", "-S", str(font)], capture_output=True, text=True, check=True).stdout
    package = owner.split(":", 1)[0]
    assert package in listed("runtime"), f"{font} comes from {package}, which `make up` does not install"


def test_the_test_packages_are_the_runtime_ones_plus_the_browser():
    assert listed("test") == [*listed("runtime"), "chromium"]
    assert "chromium" not in listed("runtime")


def test_make_up_and_the_image_install_the_runtime_packages_and_make_test_the_test_ones():
    def runs(path, group):
        return [cmd[1:] for cmd in install_calls(path)] == [[group]]

    assert runs(PROJECT_DIR / "scripts" / "up.sh", "runtime")
    assert runs(PROJECT_DIR / "Dockerfile", "runtime")
    assert runs(PROJECT_DIR / "scripts" / "test.sh", "test")


def test_no_dag_code_needs_a_browser():
    for path in [*(PROJECT_DIR / "include").rglob("*.py"), *(PROJECT_DIR / "dags").glob("*.py")]:
        text = path.read_text(encoding="utf-8").lower()
        assert "chromium" not in text and "playwright" not in text, f"{path} needs a browser at run time"
