import Foundation
import GRDB

/// The schema of a sweep database (see README, "The sweep database").
///
/// Versioning: GRDB's `DatabaseMigrator` records applied migrations in its own table
/// `grdb_migrations`; migration "v1" also sets `PRAGMA user_version = 1`, so that
/// `sqlite3 sweep.sqlite 'PRAGMA user_version'` tells the schema version. A later schema adds a
/// migration "v2" that sets `user_version = 2`, and so on.
enum SQLiteSchema {
    /// The schema version this build writes and reads.
    static let version = 1
    /// The tables of our schema (besides GRDB's `grdb_migrations`).
    static let tables: Set<String> = ["sweep", "trials", "epochs"]
    static let migrationTable = "grdb_migrations"

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE sweep (
                    id          INTEGER PRIMARY KEY CHECK (id = 1),
                    name        TEXT NOT NULL,
                    space_json  TEXT NOT NULL,
                    space_hash  TEXT NOT NULL,
                    created_at  REAL NOT NULL
                );
                CREATE TABLE trials (
                    id                  TEXT PRIMARY KEY NOT NULL,
                    number              INTEGER NOT NULL UNIQUE,
                    configuration       TEXT NOT NULL,
                    schedule            TEXT NOT NULL
                                        CHECK (schedule IN ('sgdr', 'step', 'cosine', 'constant')),
                    repeat_index        INTEGER NOT NULL,
                    seed                INTEGER NOT NULL,
                    lr_max              REAL NOT NULL,
                    lr_min              REAL NOT NULL,
                    t0                  INTEGER NOT NULL,
                    tmult               REAL NOT NULL,
                    lr_max_compression  REAL NOT NULL,
                    trigger_val_acc     REAL NOT NULL,
                    epochs              INTEGER NOT NULL,
                    step_milestones     TEXT NOT NULL,
                    step_factor         REAL NOT NULL,
                    swept               TEXT NOT NULL,
                    status              TEXT NOT NULL DEFAULT 'pending'
                                        CHECK (status IN ('pending', 'running', 'done', 'diverged', 'failed', 'interrupted')),
                    owner               TEXT,
                    attempts            INTEGER NOT NULL DEFAULT 0,
                    started_at          REAL,
                    finished_at         REAL,
                    seconds             REAL,
                    error               TEXT,
                    best_val_acc        REAL,
                    best_epoch          INTEGER,
                    final_val_acc       REAL
                );
                CREATE INDEX trials_status_number ON trials (status, number);
                CREATE INDEX trials_configuration ON trials (configuration);
                CREATE TABLE epochs (
                    trial_id       TEXT NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
                    epoch          INTEGER NOT NULL,
                    lr             REAL,
                    train_loss     REAL,
                    train_acc      REAL,
                    val_loss       REAL,
                    val_acc        REAL,
                    train_seconds  REAL,
                    PRIMARY KEY (trial_id, epoch)
                );
                PRAGMA user_version = 1;
                """)
        }
        return migrator
    }
}
