"""Configuration, the leaf every layer may import: it imports no stage.

``Settings`` (``root.py``) nests one typed group per concern, each in its own module:
``model`` (LightGBM hyperparameters), ``training`` (candidates, label, retrain,
fairness), ``tune``, ``tracking`` (MLflow), ``serving`` and ``privacy``. A stage either
takes the whole ``Settings`` or only its own group, typed.
"""

from talentmap.settings.root import (
    FeatureSettings,
    GeneratorSettings,
    LakeSettings,
    Settings,
    get_settings,
)

__all__ = ["FeatureSettings", "GeneratorSettings", "LakeSettings", "Settings", "get_settings"]
