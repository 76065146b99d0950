"""What the service's start-up imports (issue 10: ready in under 5 s at a million).

``bentoml serve`` imports the service module in its arbiter, then in every worker, before
any worker can load a ranking; the heavy libraries must come later, on first use or in the
background: Feast (``/score``), LightGBM and scikit-learn (the model), MLflow (the registry
check, right after ready), pandera (the lake); numpy, pyarrow and pandas come with the
worker's state (``TalentMapService.__init__``), so the arbiter never imports them.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("feast", "lightgbm", "sklearn", "mlflow", "pandera", "scipy", "pandas", "pyarrow", "numpy")


def _imported_after(statement: str) -> list[str]:
    code = (
        f"import json, sys\n{statement}\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_service_module_imports_no_heavy_library() -> None:
    assert _imported_after("import talentmap.serving.service") == []


def test_the_settings_do_not_import_the_contracts_validation() -> None:
    assert _imported_after("from talentmap.settings import Settings; Settings()") == []


def test_wording_a_stored_reason_needs_no_model_library() -> None:
    # The first shortlist with reasons words every stored reason in English and French:
    # that must not wait for LightGBM, scikit-learn or SciPy (the model's imports).
    imported = _imported_after(
        "from talentmap.training.model.wording import localised_texts\n"
        "localised_texts('n_rounds', 2.0, 0.3, None)"
    )
    assert imported == []
