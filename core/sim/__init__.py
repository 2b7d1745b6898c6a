"""A discrete-event simulator that runs the real scaler and policies in virtual time."""
