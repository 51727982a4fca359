"""Insurance CRM: the Flask application package."""


def create_app(test_config: dict | None = None):
    """Build the app (imported lazily so that pure modules import without Flask)."""
    from crm.app import create_app as _create_app

    return _create_app(test_config)
