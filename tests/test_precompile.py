"""The controller's pre-rewritten test modules are what pytest's import hook reads (tests/precompile.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _pytest.assertion import rewrite

from tests import precompile


def test_a_rewritten_module_is_cached_where_pytest_reads_it_with_its_asserts_explained(
    pytestconfig: pytest.Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "test_sample.py"
    module.write_text("def check(x):\n    total = x + 1\n    assert total == 3\n")
    monkeypatch.setattr(precompile, "_CONFIG", pytestconfig)

    precompile._rewrite(module)

    # a pytest that moved its private helpers would leave nothing here: each process would rewrite again (slower)
    code = rewrite._read_pyc(module, rewrite.get_cache_dir(module) / ("test_sample" + rewrite.PYC_TAIL))
    assert code is not None
    namespace: dict = {}
    exec(code, namespace)
    with pytest.raises(AssertionError, match=r"assert 2 == 3"):
        namespace["check"](1)

    module.write_text("def check(x):\n    assert x\n")  # a changed source is not served the old code
    assert rewrite._read_pyc(module, rewrite.get_cache_dir(module) / ("test_sample" + rewrite.PYC_TAIL)) is None
