using Fleet.Silo.Tests.Persistence;
using Fleet.TestSupport;
using Microsoft.AspNetCore.Identity;
using Npgsql;

namespace Fleet.Silo.Tests.Registry;

public sealed class UserAndRejectSchemaTests(PostgresFixture postgres)
{
    private const int Timeout = 60_000;
    private const string InsertUser = "INSERT INTO users (username, display_name, password_hash, role, department_id) VALUES ($1, '测试用户', $2, $3, $4)";

    private static readonly string Hash = new PasswordHasher<object>().HashPassword(new object(), "secret");

    [Fact(Timeout = Timeout)]
    public async Task A_user_gets_the_defaults_and_updated_at_moves_on_update()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        await TestDb.ExecuteAsync(db, InsertUser, "admin", Hash, "admin", DBNull.Value);

        Assert.Equal(
            ["zh-CN|t|0|-"],
            await TestDb.QueryStringsAsync(db, "SELECT concat_ws('|', locale, enabled, failed_logins, coalesce(locked_until::text, '-')) FROM users"));
        await TestDb.ExecuteAsync(db, "UPDATE users SET failed_logins = 1 WHERE username = 'admin'");
        Assert.True(await TestDb.ScalarAsync<bool>(db, "SELECT updated_at > created_at FROM users"));
    }

    [Theory(Timeout = Timeout)]
    [InlineData("Admin")]
    [InlineData("ADMIN")]
    [InlineData("ad min")]
    [InlineData("")]
    public async Task A_username_that_is_not_lower_case_or_not_a_plain_name_is_rejected(string username)
    {
        var db = await TestDb.CreateMigratedAsync(postgres);

        var error = await Assert.ThrowsAsync<PostgresException>(() => TestDb.ExecuteAsync(db, InsertUser, username, Hash, "admin", DBNull.Value));

        Assert.Equal("users_username_check", error.ConstraintName);
    }

    [Fact(Timeout = Timeout)]
    public async Task A_duplicate_username_is_rejected()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        await TestDb.ExecuteAsync(db, InsertUser, "dispatcher", Hash, "dispatcher", DBNull.Value);

        var error = await Assert.ThrowsAsync<PostgresException>(() => TestDb.ExecuteAsync(db, InsertUser, "dispatcher", Hash, "supervisor", DBNull.Value));

        Assert.Equal("users_username_key", error.ConstraintName);
    }

    [Theory(Timeout = Timeout)]
    [InlineData("department_manager")]
    [InlineData("driver")]
    [InlineData("requester")]
    public async Task A_department_role_without_a_department_is_rejected(string role)
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var department = await TestDb.ScalarAsync<int>(
            db,
            "WITH r AS (INSERT INTO regions (code, name, level) VALUES ('150000', '内蒙古自治区', 'province') RETURNING id) INSERT INTO departments (region_id, name) SELECT id, '内蒙古自治区财政厅' FROM r RETURNING id");
        await TestDb.ExecuteAsync(db, InsertUser, "with.department", Hash, role, department);

        var error = await Assert.ThrowsAsync<PostgresException>(() => TestDb.ExecuteAsync(db, InsertUser, "without.department", Hash, role, DBNull.Value));

        Assert.Equal("users_department_required", error.ConstraintName);
    }

    [Theory(Timeout = Timeout)]
    [InlineData("root")]
    [InlineData("Admin")]
    [InlineData("")]
    public async Task A_role_outside_the_six_roles_is_rejected(string role)
    {
        var db = await TestDb.CreateMigratedAsync(postgres);

        var error = await Assert.ThrowsAsync<PostgresException>(() => TestDb.ExecuteAsync(db, InsertUser, "someone", Hash, role, DBNull.Value));

        Assert.Equal("users_role_check", error.ConstraintName);
    }

    [Theory(Timeout = Timeout)]
    [InlineData("secret")]
    [InlineData("$7$101$do4C0p/Pz7V89MAm$PIx6VdYD7n4eQnL9Axw2e5")]
    [InlineData("AJ8LhYyRfrtvX0Y4cQ2r8u5t")]   // Identity v2 (marker byte 0x00)
    public async Task A_password_hash_not_in_identity_v3_format_is_rejected(string hash)
    {
        var db = await TestDb.CreateMigratedAsync(postgres);

        var error = await Assert.ThrowsAsync<PostgresException>(() => TestDb.ExecuteAsync(db, InsertUser, "someone", hash, "admin", DBNull.Value));

        Assert.Equal("users_password_hash_check", error.ConstraintName);
    }

    [Fact(Timeout = Timeout)]
    public async Task A_reject_is_stored_with_its_reason_field_and_payload_head()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);

        await TestDb.ExecuteAsync(
            db,
            "INSERT INTO telemetry_rejects (terminal_id, reason, field, payload_head) VALUES ($1, $2, $3, $4)",
            "T014500000001",
            "SpeedOutOfRange",
            "spd",
            new byte[256]);

        Assert.Equal(
            ["T014500000001|SpeedOutOfRange|spd|256|t"],
            await TestDb.QueryStringsAsync(db, "SELECT concat_ws('|', terminal_id, reason, field, octet_length(payload_head), received_at > now() - interval '1 minute') FROM telemetry_rejects"));
    }

    [Fact(Timeout = Timeout)]
    public async Task A_payload_head_over_256_bytes_is_rejected()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);

        var error = await Assert.ThrowsAsync<PostgresException>(() => TestDb.ExecuteAsync(
            db,
            "INSERT INTO telemetry_rejects (terminal_id, reason, payload_head) VALUES ('T1', 'MalformedJson', $1)",
            new byte[257]));

        Assert.Equal("telemetry_rejects_payload_head_check", error.ConstraintName);
    }

    [Fact(Timeout = Timeout)]
    public async Task Rejects_are_indexed_for_per_terminal_lookup_and_for_pruning_by_age()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);

        var indexes = await TestDb.QueryStringsAsync(db, "SELECT indexdef FROM pg_indexes WHERE tablename = 'telemetry_rejects' ORDER BY indexname");

        Assert.Contains(indexes, i => i.EndsWith("(terminal_id, received_at)", StringComparison.Ordinal));
        Assert.Contains(indexes, i => i.EndsWith("(received_at)", StringComparison.Ordinal));
    }
}
