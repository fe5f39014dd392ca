"""Consumer-group processors that do the work: execution (routing, building, submitting,
confirming, retries) against the simulated venues. A leaf: nothing imports it but `oee`."""
