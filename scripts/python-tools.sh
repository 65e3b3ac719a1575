# shellcheck shell=bash
# Sourced by scripts/lint-python and scripts/check-release: a virtual environment,
# target/python-tools, holding the pinned Python tools of CI, installed from PyPI when missing.
# Sets $tools_python, and puts the environment's bin/ first on PATH.
#
# - ruff: the linter (`[tool.ruff]` in pyproject.toml).
# - mypy 1.16.1: the newest mypy that still type-checks for Python 3.8, the oldest Python the
#   package supports (`requires-python`); mypy 1.17 and later refuse `python_version = "3.8"`.
# - maturin: the build backend of the wheel (`[build-system]` in pyproject.toml).

python_tools_pins=(ruff==0.17.6 mypy==1.16.1 maturin==1.16.0)
python_tools_venv=target/python-tools

python_tools_die() {
    echo "error: $*" >&2
    exit 1
}

if [ ! -x "$python_tools_venv/bin/python" ]; then
    echo "creating the virtual environment $python_tools_venv for the Python tools" >&2
    "${PYTHON:-python3}" -m venv "$python_tools_venv" ||
        python_tools_die "could not create a virtual environment with ${PYTHON:-python3} -m venv"
fi
tools_python=$PWD/$python_tools_venv/bin/python
# Quick when everything is already there at these versions (pip does not go to the index).
"$tools_python" -m pip --disable-pip-version-check --quiet install "${python_tools_pins[@]}" ||
    python_tools_die "could not install ${python_tools_pins[*]} from PyPI into $python_tools_venv"
PATH="$PWD/$python_tools_venv/bin:$PATH"
export PATH
