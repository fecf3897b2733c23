// placeholder until the SQLiteStore issue lands
