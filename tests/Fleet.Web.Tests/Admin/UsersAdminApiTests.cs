using System.Globalization;
using System.Net;
using System.Text.Json;
using Fleet.TestSupport;
using Fleet.Web.Audit;
using Fleet.Web.Auth;
using Fleet.Web.Tests.Platform;
using Microsoft.AspNetCore.Identity;
using Npgsql;

namespace Fleet.Web.Tests.Admin;

public sealed class UsersAdminApiTests(SeededFleet fleet) : IClassFixture<SeededFleet>
{
    private const string Password = "Start-pass-2026";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task An_administrator_creates_a_user_who_can_then_sign_in_and_the_creation_is_audited()
    {
        var admin = await fleet.SessionAsync("admin", Ct);
        var department = await fleet.DepartmentOfAsync("manager1", Ct);
        var username = AdminKit.Unique("new");

        var created = await admin.SendJsonAsync(HttpMethod.Post, "/api/admin/users", new { username = username.ToUpperInvariant(), displayName = " 王 芳 ", password = Password, role = "requester", departmentId = department }, Ct);

        Assert.Equal(HttpStatusCode.Created, created.Status);
        var id = created.Body.GetProperty("id").GetInt32();
        Assert.Equal($"/api/admin/users/{id}", created.Message.Headers.Location?.OriginalString);
        Assert.Equal(username, created.Body.GetProperty("username").GetString());
        Assert.Equal("王 芳", created.Body.GetProperty("displayName").GetString());
        Assert.Equal(department, created.Body.GetProperty("departmentId").GetInt32());
        Assert.True(created.Body.GetProperty("enabled").GetBoolean());
        Assert.False(created.Body.TryGetProperty("passwordHash", out _));
        // Hashed with Identity's hasher; never stored as given.
        var hash = await ScalarAsync<string>("SELECT password_hash FROM users WHERE id = $1", id);
        Assert.Equal(PasswordVerificationResult.Success, new PasswordHasher<Account>().VerifyHashedPassword(null!, hash, Password));

        var fetched = await admin.GetApiAsync($"/api/admin/users/{id}", Ct);
        Assert.Equal(created.Body.ToString(), fetched.Body.ToString());
        var listed = await admin.GetApiAsync($"/api/admin/users?q={username}", Ct);
        Assert.Equal(1, listed.Body.GetProperty("total").GetInt64());

        var login = await fleet.Host.CreateSessionClient().LoginAsync(username, Password, Ct);
        Assert.Equal(HttpStatusCode.OK, login.Status);
        Assert.Equal("requester", login.Body.GetProperty("role").GetString());

        var entry = Assert.Single(await admin.AuditAsync($"?action=user.created&targetType=user&targetId={id}", Ct));
        Assert.Equal("admin", entry.GetProperty("actorName").GetString());
        Assert.Equal(username, entry.GetProperty("details").GetProperty("username").GetString());
        Assert.DoesNotContain(Password, entry.ToString(), StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Role_department_name_and_disabling_are_applied_audited_one_entry_each_and_end_the_users_session()
    {
        var admin = await fleet.SessionAsync("admin", Ct);
        var finance = await fleet.DepartmentOfAsync("manager1", Ct);
        var police = await fleet.DepartmentOfAsync("manager2", Ct);
        var username = AdminKit.Unique("change");
        var id = await admin.CreateUserAsync(username, Password, "requester", finance, Ct);
        var session = fleet.Host.CreateSessionClient();
        Assert.Equal(HttpStatusCode.OK, (await session.LoginAsync(username, Password, Ct)).Status);

        var changed = await admin.SendJsonAsync(HttpMethod.Patch, $"/api/admin/users/{id}", new { role = "department_manager", departmentId = police, displayName = "新名字" }, Ct);

        Assert.Equal(HttpStatusCode.OK, changed.Status);
        Assert.Equal("department_manager", changed.Body.GetProperty("role").GetString());
        Assert.Equal(police, changed.Body.GetProperty("departmentId").GetInt32());
        Assert.Equal("新名字", changed.Body.GetProperty("displayName").GetString());
        // The session was issued for the old role: it ends at once.
        (await session.GetApiAsync("/api/auth/me", Ct)).AssertProblem(HttpStatusCode.Unauthorized);

        Assert.Equal(HttpStatusCode.OK, (await admin.SendJsonAsync(HttpMethod.Patch, $"/api/admin/users/{id}", new { enabled = false }, Ct)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await fleet.Host.CreateSessionClient().LoginAsync(username, Password, Ct)).Status);
        Assert.Equal(HttpStatusCode.OK, (await admin.SendJsonAsync(HttpMethod.Patch, $"/api/admin/users/{id}", new { enabled = true }, Ct)).Status);
        Assert.Equal(HttpStatusCode.OK, (await fleet.Host.CreateSessionClient().LoginAsync(username, Password, Ct)).Status);

        var entries = await admin.AuditAsync($"?targetType=user&targetId={id}", Ct);
        entries.Reverse();
        Assert.Equal(
            [
                AuditActions.UserCreated, AuditActions.LoginSucceeded, AuditActions.UserRoleChanged, AuditActions.UserDepartmentChanged,
                AuditActions.UserRenamed, AuditActions.UserDisabled, AuditActions.UserEnabled, AuditActions.LoginSucceeded,
            ],
            entries.Select(e => e.Action()));
        var department = entries.Single(e => e.Action() == AuditActions.UserDepartmentChanged).GetProperty("details");
        Assert.Equal(finance, department.GetProperty("from").GetInt32());
        Assert.Equal(police, department.GetProperty("to").GetInt32());
    }

    [Fact(Timeout = 60_000)]
    public async Task A_password_reset_checks_the_policy_replaces_the_password_lifts_a_lockout_and_is_audited_without_the_password()
    {
        var admin = await fleet.SessionAsync("admin", Ct);
        var username = AdminKit.Unique("reset");
        var id = await admin.CreateUserAsync(username, Password, "supervisor", null, Ct);
        var client = fleet.Host.CreateSessionClient();
        for (var i = 0; i < 5; i++)
        {
            await client.LoginAsync(username, "wrong-guess-1", Ct);
        }

        Assert.Equal(HttpStatusCode.Locked, (await client.LoginAsync(username, Password, Ct)).Status);

        foreach (var weak in new[] { "short1", "onlyletterslong", "1234567890123", $"X1{username}x", "aaaaaaaaa1" })
        {
            var refused = await admin.SendJsonAsync(HttpMethod.Post, $"/api/admin/users/{id}/password", new { password = weak }, Ct);
            Assert.True(refused.AssertProblem(HttpStatusCode.BadRequest).GetProperty("errors").TryGetProperty("password", out _), weak);
        }

        // A session from before a reset (on another device, say) ends with it.
        var otherName = AdminKit.Unique("other");
        var otherId = await admin.CreateUserAsync(otherName, Password, "supervisor", null, Ct);
        var other = fleet.Host.CreateSessionClient();
        Assert.Equal(HttpStatusCode.OK, (await other.LoginAsync(otherName, Password, Ct)).Status);
        fleet.Clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(HttpStatusCode.NoContent, (await admin.SendJsonAsync(HttpMethod.Post, $"/api/admin/users/{otherId}/password", new { password = "Other-pass-2027" }, Ct)).Status);
        (await other.GetApiAsync("/api/auth/me", Ct)).AssertProblem(HttpStatusCode.Unauthorized);
        Assert.Equal(HttpStatusCode.OK, (await other.LoginAsync(otherName, "Other-pass-2027", Ct)).Status);
        Assert.Equal(HttpStatusCode.OK, (await other.GetApiAsync("/api/auth/me", Ct)).Status);

        const string newPassword = "Fresh-pass-2027";
        var reset = await admin.SendJsonAsync(HttpMethod.Post, $"/api/admin/users/{id}/password", new { password = newPassword }, Ct);

        Assert.Equal(HttpStatusCode.NoContent, reset.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.LoginAsync(username, Password, Ct)).Status);
        Assert.Equal(HttpStatusCode.OK, (await client.LoginAsync(username, newPassword, Ct)).Status);
        var user = await admin.GetApiAsync($"/api/admin/users/{id}", Ct);
        Assert.Equal(fleet.Clock.GetUtcNow(), user.Body.GetProperty("passwordChangedAt").GetDateTimeOffset(), TimeSpan.FromSeconds(1));

        var entry = Assert.Single(await admin.AuditAsync($"?action=user.password_reset&targetId={id}", Ct));
        Assert.True(entry.GetProperty("details").GetProperty("wasLocked").GetBoolean());
        Assert.DoesNotContain(newPassword, entry.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("Fresh", await ScalarAsync<string>("SELECT string_agg(details::text, '') FROM audit_log"), StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Bad_requests_are_refused_with_the_field_and_leave_nothing_behind()
    {
        var admin = await fleet.SessionAsync("admin", Ct);
        var department = await fleet.DepartmentOfAsync("manager1", Ct);

        Field(await admin.SendJsonAsync(HttpMethod.Post, "/api/admin/users", new { username = "bad name", displayName = "x", password = Password, role = "driver", departmentId = department }, Ct), "username");
        Field(await admin.SendJsonAsync(HttpMethod.Post, "/api/admin/users", new { username = "nodept1", displayName = "x", password = Password, role = "driver" }, Ct), "departmentId");
        Field(await admin.SendJsonAsync(HttpMethod.Post, "/api/admin/users", new { username = "baddept1", displayName = "x", password = Password, role = "driver", departmentId = 987_654 }, Ct), "departmentId");
        Field(await admin.SendJsonAsync(HttpMethod.Post, "/api/admin/users", new { username = "badrole1", displayName = "x", password = Password, role = "root" }, Ct), "role");
        Field(await admin.SendJsonAsync(HttpMethod.Post, "/api/admin/users", new { username = "extra1", displayName = "x", password = Password, role = "supervisor", passwordHash = "AQAAAA" }, Ct), "passwordHash");
        Field(await admin.SendJsonAsync(HttpMethod.Post, "/api/admin/users", new { username = "weak1", displayName = "x", password = "weak", role = "supervisor" }, Ct), "password");
        Field(await admin.SendRawAsync(HttpMethod.Post, "/api/admin/users", "[1]", "application/json", Ct), "body");
        var duplicate = await admin.SendJsonAsync(HttpMethod.Post, "/api/admin/users", new { username = "manager1", displayName = "x", password = Password, role = "supervisor" }, Ct);
        Assert.Equal("用户名已存在", duplicate.AssertProblem(HttpStatusCode.Conflict).GetProperty("title").GetString());

        var adminId = await ScalarAsync<int>("SELECT id FROM users WHERE username = 'admin'");
        var self = await admin.SendJsonAsync(HttpMethod.Patch, $"/api/admin/users/{adminId}", new { role = "supervisor" }, Ct);
        self.AssertProblem(HttpStatusCode.Conflict);
        (await admin.SendJsonAsync(HttpMethod.Patch, $"/api/admin/users/{adminId}", new { enabled = false }, Ct)).AssertProblem(HttpStatusCode.Conflict);
        var manager = await ScalarAsync<int>("SELECT id FROM users WHERE username = 'manager2'");
        Field(await admin.SendJsonAsync(HttpMethod.Patch, $"/api/admin/users/{manager}", new { departmentId = (int?)null }, Ct), "departmentId");
        Field(await admin.SendJsonAsync(HttpMethod.Patch, $"/api/admin/users/{manager}", new { enabled = "no" }, Ct), "enabled");
        (await admin.GetApiAsync("/api/admin/users/987654", Ct)).AssertProblem(HttpStatusCode.NotFound);
        (await admin.GetApiAsync("/api/admin/users/abc", Ct)).AssertProblem(HttpStatusCode.NotFound);
        (await admin.SendJsonAsync(HttpMethod.Patch, "/api/admin/users/987654", new { enabled = false }, Ct)).AssertProblem(HttpStatusCode.NotFound);
        Field(await admin.GetApiAsync("/api/admin/users?role=root&pageSize=501&enabled=maybe", Ct), "role", "pageSize", "enabled");

        Assert.Equal(0L, await ScalarAsync<long>("SELECT count(*) FROM users WHERE username IN ('nodept1', 'baddept1', 'badrole1', 'extra1', 'weak1')"));
        Assert.Equal("admin", await ScalarAsync<string>("SELECT role FROM users WHERE id = $1", adminId));
        Assert.Equal(0L, await ScalarAsync<long>("SELECT count(*) FROM audit_log WHERE action LIKE 'user.%' AND target_id IN ($1, $2)", adminId.ToString(CultureInfo.InvariantCulture), manager.ToString(CultureInfo.InvariantCulture)));
    }

    [Fact(Timeout = 60_000)]
    public async Task Only_administrators_manage_users()
    {
        foreach (var user in new[] { "supervisor", "dispatcher", "manager1", "driver1", "requester1" })
        {
            var client = await fleet.SessionAsync(user, Ct);
            (await client.GetApiAsync("/api/admin/users", Ct)).AssertProblem(HttpStatusCode.Forbidden);
            (await client.SendJsonAsync(HttpMethod.Post, "/api/admin/users", new { username = "sneaky1", displayName = "x", password = Password, role = "admin" }, Ct)).AssertProblem(HttpStatusCode.Forbidden);
        }

        (await fleet.Host.CreateSessionClient().GetApiAsync("/api/admin/users", Ct)).AssertProblem(HttpStatusCode.Unauthorized);
        Assert.Equal(0L, await ScalarAsync<long>("SELECT count(*) FROM users WHERE username = 'sneaky1'"));
    }

    private static void Field(ApiResponse response, params string[] fields)
    {
        var problem = response.AssertProblem(HttpStatusCode.BadRequest);
        foreach (var field in fields)
        {
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"no error on {field}: {problem}");
        }
    }

    private async Task<T> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var command = fleet.Db.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        return (T)(await command.ExecuteScalarAsync(Ct))!;
    }
}
