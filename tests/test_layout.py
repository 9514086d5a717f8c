"""One shape for every service (docs/layout.md): the same top-level names in every service
folder, so a newcomer finds any rule in one hop and a new service cannot drift."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = sorted(p for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists())

REQUIRED = {
    "__init__.py",
    "app.py",
    "config.py",
    "metrics.py",
    "cli.py",
    "domain",
    "handlers",
    "adapters",
    "entrypoints",
    "migrations",
}
ALLOWED = REQUIRED | {"simulator.py", "py.typed", "__pycache__"}
ENTRYPOINTS = {"http.py", "kafka.py", "background.py"}
MAX_LINES = 400


def package_of(service: Path) -> Path:
    [package] = [p for p in (service / "src" / "yiwang").iterdir() if p.is_dir()]
    return package


def test_every_service_folder_is_checked() -> None:
    assert [s.name for s in SERVICES] == [
        "department-dispatch",
        "grid-routing",
        "intake",
        "mediation",
        "oversight",
    ]


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_the_same_top_level_names(service: Path) -> None:
    package = package_of(service)
    names = {p.name for p in package.iterdir()}
    assert REQUIRED - names == set(), f"{package} lacks {sorted(REQUIRED - names)}"
    assert names - ALLOWED == set(), (
        f"{package} has {sorted(names - ALLOWED)} at the top; see docs/layout.md for where "
        "each kind of code goes"
    )


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_packages_and_entrypoints(service: Path) -> None:
    package = package_of(service)
    for folder in ("domain", "handlers", "adapters", "entrypoints"):
        assert (package / folder / "__init__.py").exists(), f"{package / folder} is not a package"
    entrypoints = {p.name for p in (package / "entrypoints").iterdir()}
    assert entrypoints >= ENTRYPOINTS, f"{package}/entrypoints lacks {ENTRYPOINTS - entrypoints}"


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_the_domain_is_pure(service: Path) -> None:
    """No database, broker, topic names or HTTP in domain/, and no clock reads or
    randomness: the time and new ids are passed in."""
    forbidden_imports = (
        "asyncpg",
        "aiokafka",
        "faststream",
        "fastapi",
        "httpx",
        "yiwang.common.topics",
        "secrets",
    )
    # A seeded random.Random(seed) (the synthetic county generator) is randomness passed in.
    forbidden_calls = (
        "uuid.uuid4(",
        "uuid4()",
        "datetime.now(",
        "time.time(",
        "os.urandom(",
        "random.random(",
        "random.choice(",
    )
    for module in (package_of(service) / "domain").rglob("*.py"):
        text = module.read_text(encoding="utf-8")
        where = module.relative_to(ROOT)
        for name in forbidden_imports:
            assert f"import {name}\n" not in text, f"{where} imports {name}"
            assert f"from {name} " not in text, f"{where} imports from {name}"
        for call in forbidden_calls:
            assert call not in text, f"{where} calls {call}..."


def test_no_source_module_over_400_lines() -> None:
    sources = [*(ROOT / "libs").rglob("src/**/*.py"), *(ROOT / "services").rglob("src/**/*.py")]
    long = {
        str(p.relative_to(ROOT)): n
        for p in sources
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_services_import_no_other_service() -> None:
    """Services share only libs/common."""
    packages = {package_of(s).name for s in SERVICES}
    for service in SERVICES:
        own = package_of(service).name
        for module in (service / "src").rglob("*.py"):
            text = module.read_text(encoding="utf-8")
            for other in packages - {own}:
                assert f"yiwang.{other}" not in text, f"{module.relative_to(ROOT)} imports {other}"


def test_no_two_test_modules_share_a_name() -> None:
    """Unit tests import helpers from sibling modules by name: two modules of one name in
    different services would shadow each other in one pytest run."""
    names = [p.name for p in ROOT.glob("*/**/tests/**/test_*.py") if ".venv" not in p.parts]
    assert sorted({n for n in names if names.count(n) > 1}) == []
