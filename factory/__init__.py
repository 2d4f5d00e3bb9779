"""microfactory: the commune's web app, JSON API, models, services and command line.

Nothing here connects to a database or a broker at import time: entry points build a
:class:`factory.settings.Settings` and pass it on.
"""
