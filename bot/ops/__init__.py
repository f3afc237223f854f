"""Running the bot as a service: one instance, health and metrics, start-up checks,
polling errors, backups. Nothing here talks to installers."""
