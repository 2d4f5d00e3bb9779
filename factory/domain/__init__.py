"""Rules of the commune that need neither Flask nor a database."""
