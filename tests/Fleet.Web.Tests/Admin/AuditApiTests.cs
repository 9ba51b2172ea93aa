using System.Globalization;
using System.Net;
using System.Text.Json;
using Fleet.TestSupport;
using Fleet.Web.Audit;
using Fleet.Web.Tests.Platform;
using Npgsql;

namespace Fleet.Web.Tests.Admin;

public sealed class AuditApiTests(SeededFleet fleet) : IClassFixture<SeededFleet>
{
    private const string Password = "Audit-pass-2026";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task Logins_that_fail_lock_succeed_and_sign_out_are_each_recorded_with_actor_and_address()
    {
        var admin = await fleet.SessionAsync("admin", Ct);
        var supervisor = await fleet.SessionAsync("supervisor", Ct);
        var username = AdminKit.Unique("login");
        var userId = await admin.CreateUserAsync(username, Password, "driver", await fleet.DepartmentOfAsync("driver1", Ct), Ct);
        var client = fleet.Host.CreateSessionClient();

        for (var i = 0; i < 5; i++)
        {
            await client.LoginAsync(username, "wrong-password-1", Ct);
        }

        await client.LoginAsync(username, Password, Ct); // refused while locked
        fleet.Clock.Advance(TimeSpan.FromMinutes(16));
        Assert.Equal(HttpStatusCode.OK, (await client.LoginAsync(username, Password, Ct)).Status);
        using (var logout = await client.PostAsync("/api/auth/logout", null, Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }

        var entries = await supervisor.AuditAsync($"?actor={username}&pageSize=50", Ct);
        entries.Reverse();
        Assert.Equal(
            [
                AuditActions.LoginFailed, AuditActions.LoginFailed, AuditActions.LoginFailed, AuditActions.LoginFailed,
                AuditActions.LockedOut, AuditActions.LoginFailed, AuditActions.LoginSucceeded, AuditActions.Logout,
            ],
            entries.Select(e => e.Action()));
        Assert.All(entries.Take(4), e => Assert.Equal("invalid_credentials", e.GetProperty("details").GetProperty("reason").GetString()));
        Assert.Equal("locked", entries[5].GetProperty("details").GetProperty("reason").GetString());
        Assert.True(entries[4].GetProperty("details").TryGetProperty("lockedUntil", out _));
        Assert.Equal(JsonValueKind.Null, entries[0].GetProperty("actorUserId").ValueKind);
        Assert.All(entries[6..], e =>
        {
            Assert.Equal(userId, e.GetProperty("actorUserId").GetInt32());
            Assert.Equal("driver", e.GetProperty("actorRole").GetString());
        });
        Assert.Equal(userId.ToString(CultureInfo.InvariantCulture), entries[6].GetProperty("targetId").GetString());
        Assert.All(entries, e => Assert.Equal("127.0.0.1", e.GetProperty("clientIp").GetString()));
    }

    [Fact(Timeout = 60_000)]
    public async Task Supervisors_and_administrators_read_the_log_and_other_roles_and_anonymous_callers_do_not()
    {
        foreach (var (user, status) in new[]
        {
            ("admin", HttpStatusCode.OK), ("supervisor", HttpStatusCode.OK), ("dispatcher", HttpStatusCode.Forbidden),
            ("manager1", HttpStatusCode.Forbidden), ("driver1", HttpStatusCode.Forbidden), ("requester1", HttpStatusCode.Forbidden),
        })
        {
            var client = await fleet.SessionAsync(user, Ct);
            Assert.True((await client.GetApiAsync("/api/audit", Ct)).Status == status, $"{user} GET /api/audit");
            Assert.True((await client.GetApiAsync("/api/audit/actions", Ct)).Status == status, $"{user} GET /api/audit/actions");
        }

        var anonymous = fleet.Host.CreateSessionClient();
        (await anonymous.GetApiAsync("/api/audit", Ct)).AssertProblem(HttpStatusCode.Unauthorized);

        var actions = await (await fleet.SessionAsync("supervisor", Ct)).GetApiAsync("/api/audit/actions", Ct);
        var listed = actions.Body.EnumerateArray().ToDictionary(a => a.GetProperty("name").GetString()!, a => a.GetProperty("recorded").GetBoolean());
        Assert.Equal(AuditActions.All, listed.Keys);
        Assert.True(listed[AuditActions.UserCreated]);
        Assert.False(listed[AuditActions.VehicleSealed]);
    }

    [Fact(Timeout = 60_000)]
    public async Task The_log_filters_by_action_actor_target_and_time_and_pages_newest_first()
    {
        var admin = await fleet.SessionAsync("admin", Ct);
        var department = await fleet.DepartmentOfAsync("manager1", Ct);
        // The sign-ins (this test's and earlier tests') happened at or before this instant on the manual clock.
        fleet.Clock.Advance(TimeSpan.FromSeconds(1));
        var start = fleet.Clock.GetUtcNow();
        var first = await admin.CreateUserAsync(AdminKit.Unique("filter"), Password, "requester", department, Ct);
        fleet.Clock.Advance(TimeSpan.FromMinutes(1));
        var middle = fleet.Clock.GetUtcNow();
        var second = await admin.CreateUserAsync(AdminKit.Unique("filter"), Password, "requester", department, Ct);
        Assert.Equal(HttpStatusCode.OK, (await admin.SendJsonAsync(HttpMethod.Patch, $"/api/admin/users/{second}", new { role = "driver" }, Ct)).Status);
        fleet.Clock.Advance(TimeSpan.FromMinutes(1));
        var supervisor = await fleet.SessionAsync("supervisor", Ct);

        var created = await supervisor.AuditAsync($"?action=user.created&from={Iso(start)}", Ct);
        Assert.Equal([Text(second), Text(first)], created.Select(e => e.GetProperty("targetId").GetString()));
        Assert.All(created, e => Assert.Equal("admin", e.GetProperty("actorName").GetString()));

        var onSecond = await supervisor.AuditAsync($"?targetType=user&targetId={second}", Ct);
        Assert.Equal([AuditActions.UserRoleChanged, AuditActions.UserCreated], onSecond.Select(e => e.Action()));
        Assert.Equal("requester", onSecond[0].GetProperty("details").GetProperty("from").GetString());
        Assert.Equal("driver", onSecond[0].GetProperty("details").GetProperty("to").GetString());

        // [from, to): the first creation only.
        var early = await supervisor.AuditAsync($"?action=user.created&from={Iso(start)}&to={Iso(middle)}", Ct);
        Assert.Equal([Text(first)], early.Select(e => e.GetProperty("targetId").GetString()));

        var adminId = await UserIdAsync("admin");
        var byActorId = await supervisor.AuditAsync($"?actorId={adminId}&from={Iso(start)}", Ct);
        Assert.Equal(3, byActorId.Count);

        // Paging: one entry a page, in the same newest-first order, with the total.
        var page1 = await supervisor.GetApiAsync($"/api/audit?actor=ADMIN&from={Iso(start)}&pageSize=1&page=1", Ct);
        var page3 = await supervisor.GetApiAsync($"/api/audit?actor=ADMIN&from={Iso(start)}&pageSize=1&page=3", Ct);
        Assert.Equal(3, page1.Body.GetProperty("total").GetInt64());
        Assert.Equal(AuditActions.UserRoleChanged, page1.Body.GetProperty("items")[0].Action());
        Assert.Equal(Text(first), page3.Body.GetProperty("items")[0].GetProperty("targetId").GetString());
    }

    [Theory(Timeout = 60_000)]
    [InlineData("?action=user.deleted", "action")]
    [InlineData("?action=' OR 1=1 --", "action")]
    [InlineData("?targetType=users", "targetType")]
    [InlineData("?actorId=-1", "actorId")]
    [InlineData("?actorId=abc", "actorId")]
    [InlineData("?from=yesterday", "from")]
    [InlineData("?from=2026-12-02&to=2026-12-01", "to")]
    [InlineData("?pageSize=501", "pageSize")]
    [InlineData("?page=0", "page")]
    public async Task Bad_filters_are_a_400_naming_the_field(string query, string field)
    {
        var supervisor = await fleet.SessionAsync("supervisor", Ct);

        var problem = (await supervisor.GetApiAsync("/api/audit" + query, Ct)).AssertProblem(HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact(Timeout = 60_000)]
    public async Task Terminal_creation_disabling_rebinding_and_rotation_are_audited()
    {
        var admin = await fleet.SessionAsync("admin", Ct);
        var vehicles = await fleet.VehiclesAsync(Ct);
        var free = await FreeVehiclesAsync(2);
        var id = "T-audit-" + Guid.NewGuid().ToString("N")[..8];

        Assert.Equal(HttpStatusCode.Created, (await admin.SendJsonAsync(HttpMethod.Post, "/api/terminals", new { id, vehicleId = free[0] }, Ct)).Status);
        Assert.Equal(HttpStatusCode.OK, (await admin.SendJsonAsync(HttpMethod.Patch, $"/api/terminals/{id}", new { enabled = false }, Ct)).Status);
        Assert.Equal(HttpStatusCode.OK, (await admin.SendJsonAsync(HttpMethod.Patch, $"/api/terminals/{id}", new { enabled = false }, Ct)).Status); // no change, no entry
        Assert.Equal(HttpStatusCode.OK, (await admin.SendJsonAsync(HttpMethod.Patch, $"/api/terminals/{id}", new { enabled = true, vehicleId = free[1] }, Ct)).Status);
        Assert.Equal(HttpStatusCode.OK, (await admin.SendJsonAsync(HttpMethod.Post, $"/api/terminals/{id}/credential", null, Ct)).Status);
        // A refused change leaves no entry: the vehicle is taken.
        var taken = vehicles.First(v => !free.Contains(v.Id)).Id;
        Assert.Equal(HttpStatusCode.Conflict, (await admin.SendJsonAsync(HttpMethod.Patch, $"/api/terminals/{id}", new { vehicleId = taken }, Ct)).Status);

        var entries = await admin.AuditAsync($"?targetType=terminal&targetId={id}", Ct);
        entries.Reverse();
        Assert.Equal(
            [AuditActions.TerminalCreated, AuditActions.TerminalDisabled, AuditActions.TerminalEnabled, AuditActions.TerminalRebound, AuditActions.TerminalCredentialRotated],
            entries.Select(e => e.Action()));
        Assert.Equal(free[0], entries[3].GetProperty("details").GetProperty("from").GetInt64());
        Assert.Equal(free[1], entries[3].GetProperty("details").GetProperty("to").GetInt64());
        Assert.DoesNotContain(entries, e => e.GetProperty("details").ToString().Contains("password", StringComparison.OrdinalIgnoreCase));
    }

    private async Task<List<long>> FreeVehiclesAsync(int count)
    {
        await using var command = fleet.Db.CreateCommand(
            "SELECT v.id FROM vehicles v WHERE NOT EXISTS (SELECT FROM terminals t WHERE t.vehicle_id = v.id) ORDER BY v.id DESC LIMIT $1");
        command.Parameters.Add(new NpgsqlParameter { Value = count });
        var ids = new List<long>();
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            ids.Add(reader.GetInt64(0));
        }

        if (ids.Count < count)
        {
            // Every seeded vehicle has a terminal: free some by unbinding theirs.
            await using var unbind = fleet.Db.CreateCommand(
                "UPDATE terminals SET vehicle_id = NULL WHERE vehicle_id IN (SELECT vehicle_id FROM terminals WHERE vehicle_id IS NOT NULL ORDER BY vehicle_id DESC LIMIT $1) RETURNING 0");
            unbind.Parameters.Add(new NpgsqlParameter { Value = count });
            await unbind.ExecuteNonQueryAsync(Ct);
            return await FreeVehiclesAsync(count);
        }

        return ids;
    }

    private async Task<int> UserIdAsync(string username)
    {
        await using var command = fleet.Db.CreateCommand("SELECT id FROM users WHERE username = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = username });
        return (int)(await command.ExecuteScalarAsync(Ct))!;
    }

    private static string Iso(DateTimeOffset time) => Uri.EscapeDataString(time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture));

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
