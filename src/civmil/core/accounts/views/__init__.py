"""The accounts' pages: personal API tokens, deactivating accounts, erasing personal data."""
