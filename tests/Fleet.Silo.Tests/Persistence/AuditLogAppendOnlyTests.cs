using Fleet.Silo.Persistence;
using Fleet.TestSupport;
using Npgsql;

namespace Fleet.Silo.Tests.Persistence;

/// <summary>
/// The audit log is append-only against a real PostgreSQL: the application role (a plain login that owns the database
/// and ran the migrations, as ./fleet provisions it) cannot UPDATE, DELETE or TRUNCATE it, and the trigger refuses the
/// same even to a superuser, who bypasses privileges.
/// </summary>
public sealed class AuditLogAppendOnlyTests(PostgresFixture postgres)
{
    private const int Timeout = 60_000;
    private const string Insert = "INSERT INTO audit_log (actor_name, actor_role, action, target_type, target_id, details) VALUES ('admin', 'admin', 'user.created', 'user', '7', '{\"username\":\"li.wei\"}')";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> Changes => new()
    {
        "UPDATE audit_log SET action = 'user.deleted'",
        "UPDATE audit_log SET details = '{}' WHERE id = 1",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE id = 1",
        "TRUNCATE audit_log",
    };

    [Theory(Timeout = Timeout)]
    [MemberData(nameof(Changes))]
    public async Task The_application_role_that_owns_the_table_cannot_change_or_remove_entries(string sql)
    {
        var (superuser, app) = await CreateDatabaseOwnedByAppRoleAsync();
        await ExecuteAsync(app, Insert);

        var error = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(app, sql));

        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, error.SqlState);
        Assert.Equal(1L, await TestDb.ScalarAsync<long>(superuser, "SELECT count(*) FROM audit_log WHERE action = 'user.created' AND details->>'username' = 'li.wei'"));
        // It still appends.
        await ExecuteAsync(app, Insert);
        Assert.Equal(2L, await TestDb.ScalarAsync<long>(superuser, "SELECT count(*) FROM audit_log"));
    }

    [Theory(Timeout = Timeout)]
    [MemberData(nameof(Changes))]
    public async Task Even_a_superuser_is_refused_by_the_trigger(string sql)
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        await TestDb.ExecuteAsync(db, Insert);

        var error = await Assert.ThrowsAsync<PostgresException>(() => TestDb.ExecuteAsync(db, sql));

        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, error.SqlState);
        Assert.Contains("append-only", error.MessageText, StringComparison.Ordinal);
        Assert.Equal(1L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM audit_log"));
    }

    [Fact(Timeout = Timeout)]
    public async Task The_application_role_keeps_insert_and_select_but_holds_no_update_delete_or_truncate_privilege()
    {
        var (superuser, app) = await CreateDatabaseOwnedByAppRoleAsync();
        var role = await TestDb.ScalarAsync<string>(app, "SELECT current_user::text");

        var privileges = await TestDb.QueryStringsAsync(
            superuser,
            "SELECT p || '=' || has_table_privilege($1, 'audit_log', p)::text FROM unnest(ARRAY['INSERT','SELECT','UPDATE','DELETE','TRUNCATE']) AS p",
            role);

        Assert.Equal(["INSERT=true", "SELECT=true", "UPDATE=false", "DELETE=false", "TRUNCATE=false"], privileges);
        Assert.Equal(role, await TestDb.ScalarAsync<string>(superuser, "SELECT tableowner::text FROM pg_tables WHERE tablename = 'audit_log'"));
    }

    [Fact(Timeout = Timeout)]
    public async Task An_action_that_is_not_a_dotted_lower_case_name_or_details_that_are_not_an_object_are_rejected()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);

        var action = await Assert.ThrowsAsync<PostgresException>(() => TestDb.ExecuteAsync(db, "INSERT INTO audit_log (action) VALUES ('DROP TABLE')"));
        var details = await Assert.ThrowsAsync<PostgresException>(() => TestDb.ExecuteAsync(db, "INSERT INTO audit_log (action, details) VALUES ('user.created', '[1]')"));

        Assert.Equal("audit_log_action_check", action.ConstraintName);
        Assert.Equal("audit_log_details_check", details.ConstraintName);
    }

    /// <summary>
    /// A database owned by a fresh non-superuser login that applies the migrations itself, as the fleet role does in
    /// ./fleet up (the superuser only creates the extensions, which the template database already has).
    /// </summary>
    private async Task<(NpgsqlDataSource Superuser, NpgsqlDataSource App)> CreateDatabaseOwnedByAppRoleAsync()
    {
        var superuser = await postgres.CreateDatabaseAsync(cancellationToken: Ct);
        var database = new NpgsqlConnectionStringBuilder(superuser.ConnectionString).Database!;
        var role = "app_" + Guid.NewGuid().ToString("N")[..12];
        // Identifiers cannot be parameters; both are generated here from a fixed pattern.
        await TestDb.ExecuteAsync(superuser, $"CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE");
        await TestDb.ExecuteAsync(superuser, $"ALTER DATABASE \"{database}\" OWNER TO {role}");

        var builder = postgres.CreateConnectionStringBuilder(database);
        builder.Username = role;
        var app = NpgsqlDataSource.Create(builder);
        await MigrationRunner.ApplyAsync(app, new RecordingLogger(), Ct);
        Assert.False(await TestDb.ScalarAsync<bool>(app, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"));
        return (superuser, app);
    }

    private static async Task ExecuteAsync(NpgsqlDataSource db, string sql) => await TestDb.ExecuteAsync(db, sql);
}
