// placeholder until the Sweep issue lands
