"""What the demo prints after a day: one module per flow (dispatch, bank, inbound, report, corrections)."""
