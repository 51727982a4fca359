"""The `crm` console script (also `python -m crm.cli_main …`): the app's command line, with
the app made by the factory; the commands themselves are in crm.cli and the features' cli modules."""

from flask.cli import FlaskGroup

from crm.app import create_app

main = FlaskGroup(
    create_app=create_app, add_default_commands=True, load_dotenv=False, help="Insurance CRM command line."
)

if __name__ == "__main__":
    main()
