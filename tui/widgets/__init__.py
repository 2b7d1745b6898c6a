"""The console's widgets and screens; each is handed data and never talks to a service."""
