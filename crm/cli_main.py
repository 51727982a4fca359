"""`python -m crm.cli_main …`: the `crm` console script without relying on its wrapper."""
from crm.cli import main

if __name__ == "__main__":
    main()
