"""End-to-end runs train on the training image's Python (local/training_image.py): no silent fallback here."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def training_on_the_image_python():
    from local import training_image

    training_image.allow_fallback = False
