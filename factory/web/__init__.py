"""Server-rendered pages: parse the form, call a service, render. No commits and no rules here."""
