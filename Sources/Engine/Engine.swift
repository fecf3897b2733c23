// placeholder until the Engine issue lands
