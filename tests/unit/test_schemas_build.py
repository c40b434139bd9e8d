"""The API models are built at first use (core.schemas._Model): a broken definition would surface at a
function's first request, so every one is built here."""

from pydantic import BaseModel

from core import schemas


def _models() -> dict[str, type[BaseModel]]:
    return {name: value for name, value in vars(schemas).items()
            if isinstance(value, type) and issubclass(value, BaseModel)
            and value.__module__ == schemas.__name__}


def test_every_api_model_builds_and_has_a_json_schema():
    models = _models()
    assert len(models) > 20
    for name, model in models.items():
        assert model.model_rebuild(force=True) is not False, name
        assert model.__pydantic_complete__, name
        assert model.model_json_schema()["type"] == "object", name


def test_api_models_are_built_at_first_use_not_at_import():
    assert all(model.model_config.get("defer_build") for model in _models().values())
