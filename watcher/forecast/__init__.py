"""Release-lag math and what it says: windows, variants, backtest, alerts, reports. Pure."""
