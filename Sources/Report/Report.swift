// placeholder until the Report issue lands
