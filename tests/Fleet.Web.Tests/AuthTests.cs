using System.Net;
using System.Net.Http.Json;
using Fleet.TestSupport;
using Fleet.Web.Auth;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Fleet.Web.Tests;

public sealed class AuthTests(SeededFleet fleet, PostgresFixture postgres) : IClassFixture<SeededFleet>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 30_000)]
    public async Task Login_returns_the_user_and_sets_an_HttpOnly_SameSite_session_cookie()
    {
        var client = fleet.Host.CreateSessionClient();

        var login = await client.LoginAsync("Manager1", fleet.Passwords["manager1"], Ct);

        Assert.Equal(HttpStatusCode.OK, login.Status);
        Assert.Equal("manager1", login.Body.GetProperty("username").GetString());
        Assert.Equal("财政厅车辆管理员", login.Body.GetProperty("displayName").GetString());
        Assert.Equal("department_manager", login.Body.GetProperty("role").GetString());
        Assert.Equal(await fleet.DepartmentOfAsync("manager1", Ct), login.Body.GetProperty("departmentId").GetInt32());
        Assert.Equal(System.Text.Json.JsonValueKind.Number, login.Body.GetProperty("regionId").ValueKind);
        Assert.Equal("zh-CN", login.Body.GetProperty("locale").GetString());

        var cookie = Assert.Single(login.Message.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith("fleet_session=", cookie, StringComparison.Ordinal);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", cookie, StringComparison.OrdinalIgnoreCase);
        // SameAsRequest: plain http here, so no Secure flag (behind https it is set).
        Assert.DoesNotContain("secure", cookie, StringComparison.OrdinalIgnoreCase);

        var me = await client.GetApiAsync("/api/auth/me", Ct);
        Assert.Equal(HttpStatusCode.OK, me.Status);
        Assert.Equal(login.Body.ToString(), me.Body.ToString());
    }

    [Fact(Timeout = 30_000)]
    public async Task Wrong_password_and_unknown_user_get_the_same_401_problem()
    {
        var client = fleet.Host.CreateSessionClient();

        var wrong = (await client.LoginAsync("manager2", "not-the-password", Ct)).AssertProblem(HttpStatusCode.Unauthorized);
        var unknown = (await client.LoginAsync("nobody", "not-the-password", Ct)).AssertProblem(HttpStatusCode.Unauthorized);

        Assert.Equal("用户名或密码错误", wrong.GetProperty("title").GetString());
        Assert.Equal(wrong.GetProperty("title").GetString(), unknown.GetProperty("title").GetString());
        Assert.Equal(wrong.GetProperty("detail").GetString(), unknown.GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetApiAsync("/api/auth/me", Ct)).Status);

        // A failure is counted; the next good login clears the count.
        Assert.Equal(1, await FailedLoginsAsync("manager2"));
        Assert.Equal(HttpStatusCode.OK, (await client.LoginAsync("manager2", fleet.Passwords["manager2"], Ct)).Status);
        Assert.Equal(0, await FailedLoginsAsync("manager2"));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_hash_made_with_fewer_iterations_is_upgraded_at_the_next_login()
    {
        var weak = new PasswordHasher<Account>(Options.Create(new PasswordHasherOptions { IterationCount = 1_000 }));
        var oldHash = weak.HashPassword(null!, fleet.Passwords["supervisor"]);
        await using (var update = fleet.Db.CreateCommand("UPDATE users SET password_hash = $1 WHERE username = 'supervisor'"))
        {
            update.Parameters.Add(new NpgsqlParameter { Value = oldHash });
            await update.ExecuteNonQueryAsync(Ct);
        }

        var client = fleet.Host.CreateSessionClient();
        Assert.Equal(HttpStatusCode.OK, (await client.LoginAsync("supervisor", fleet.Passwords["supervisor"], Ct)).Status);

        await using var select = fleet.Db.CreateCommand("SELECT password_hash FROM users WHERE username = 'supervisor'");
        var newHash = (string)(await select.ExecuteScalarAsync(Ct))!;
        Assert.NotEqual(oldHash, newHash);
        Assert.Equal(PasswordVerificationResult.Success, new PasswordHasher<Account>().VerifyHashedPassword(null!, newHash, fleet.Passwords["supervisor"]));
    }

    [Fact(Timeout = 30_000)]
    public async Task Login_without_username_or_password_is_a_400_naming_the_fields()
    {
        var client = fleet.Host.CreateSessionClient();
        using var response = await client.PostAsJsonAsync("/api/auth/login", new { username = " " }, Ct);

        var problem = (await ApiResponse.ReadAsync(response, Ct)).AssertProblem(HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty("username", out _));
        Assert.True(problem.GetProperty("errors").TryGetProperty("password", out _));
    }

    [Fact(Timeout = 30_000)]
    public async Task Api_calls_without_a_session_get_401_problem_details_not_a_redirect()
    {
        var client = fleet.Host.CreateSessionClient();

        foreach (var url in new[] { "/api/auth/me", "/api/vehicles", "/api/vehicles/1", "/api/vehicles/1/track", "/api/stats/live", "/api/telemetry/rejects" })
        {
            var response = await client.GetApiAsync(url, Ct);
            var problem = response.AssertProblem(HttpStatusCode.Unauthorized);
            Assert.Null(response.Message.Headers.Location);
            Assert.Equal("未登录", problem.GetProperty("title").GetString());
        }

        // A forged cookie is no session either.
        using var forged = new HttpRequestMessage(HttpMethod.Get, "/api/vehicles");
        forged.Headers.Add("Cookie", "fleet_session=CfDJ8forged");
        using var forgedResponse = await fleet.Host.Client.SendAsync(forged, Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, forgedResponse.StatusCode);
    }

    [Fact(Timeout = 30_000)]
    public async Task Logout_ends_the_session()
    {
        var client = fleet.Host.CreateSessionClient();
        Assert.Equal(HttpStatusCode.OK, (await client.LoginAsync("dispatcher", fleet.Passwords["dispatcher"], Ct)).Status);
        Assert.Equal(HttpStatusCode.OK, (await client.GetApiAsync("/api/vehicles", Ct)).Status);

        using var logout = await client.PostAsync("/api/auth/logout", null, Ct);

        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        (await client.GetApiAsync("/api/vehicles", Ct)).AssertProblem(HttpStatusCode.Unauthorized);
    }

    [Fact(Timeout = 30_000)]
    public async Task Repeated_wrong_passwords_lock_the_account_until_the_lock_expires()
    {
        var client = fleet.Host.CreateSessionClient();
        for (var i = 0; i < 4; i++)
        {
            (await client.LoginAsync("requester1", "wrong", Ct)).AssertProblem(HttpStatusCode.Unauthorized);
        }

        var locked = (await client.LoginAsync("requester1", "wrong", Ct)).AssertProblem(HttpStatusCode.Locked);
        Assert.StartsWith("账户已锁定", locked.GetProperty("title").GetString(), StringComparison.Ordinal);
        Assert.Contains("locked until", locked.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var until = locked.GetProperty("lockedUntil").GetDateTimeOffset();
        Assert.Equal(fleet.Clock.GetUtcNow().AddMinutes(15), until, TimeSpan.FromSeconds(1));

        // While locked even the right password is refused (and not checked).
        (await client.LoginAsync("requester1", fleet.Passwords["requester1"], Ct)).AssertProblem(HttpStatusCode.Locked);
        fleet.Clock.Advance(TimeSpan.FromMinutes(14));
        (await client.LoginAsync("requester1", fleet.Passwords["requester1"], Ct)).AssertProblem(HttpStatusCode.Locked);

        fleet.Clock.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        var login = await client.LoginAsync("requester1", fleet.Passwords["requester1"], Ct);

        Assert.Equal(HttpStatusCode.OK, login.Status);
        Assert.Equal(0, await FailedLoginsAsync("requester1"));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_disabled_user_cannot_log_in_and_loses_an_open_session()
    {
        var client = fleet.Host.CreateSessionClient();
        Assert.Equal(HttpStatusCode.OK, (await client.LoginAsync("driver1", fleet.Passwords["driver1"], Ct)).Status);
        await SetEnabledAsync("driver1", false);
        try
        {
            (await client.GetApiAsync("/api/auth/me", Ct)).AssertProblem(HttpStatusCode.Unauthorized);

            var refused = (await client.LoginAsync("driver1", fleet.Passwords["driver1"], Ct)).AssertProblem(HttpStatusCode.Forbidden);
            Assert.Equal("账户已停用", refused.GetProperty("title").GetString());
            // The wrong password still gets the plain 401, so a disabled account is not revealed by guessing.
            (await client.LoginAsync("driver1", "wrong", Ct)).AssertProblem(HttpStatusCode.Unauthorized);
        }
        finally
        {
            await SetEnabledAsync("driver1", true);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Login_is_rate_limited_per_client_address()
    {
        var db = await postgres.CreateDatabaseAsync(cancellationToken: Ct);
        await using var host = await FleetHost.StartAsync(
            db.ConnectionString,
            b => b.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Fleet:Auth:LoginPermitsPerMinute"] = "3" }),
            Ct);
        var client = host.CreateSessionClient();
        for (var i = 0; i < 3; i++)
        {
            (await client.LoginAsync("nobody", "x", Ct)).AssertProblem(HttpStatusCode.Unauthorized);
        }

        var limited = await client.LoginAsync("nobody", "x", Ct);

        limited.AssertProblem(HttpStatusCode.TooManyRequests);
        Assert.True(limited.Message.Headers.Contains("Retry-After"));
        // Only the login is limited.
        Assert.Equal(HttpStatusCode.OK, (await client.GetApiAsync("/health", Ct)).Status);
    }

    private async Task<int> FailedLoginsAsync(string username)
    {
        await using var command = fleet.Db.CreateCommand("SELECT failed_logins FROM users WHERE username = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = username });
        return (int)(await command.ExecuteScalarAsync(Ct))!;
    }

    private async Task SetEnabledAsync(string username, bool enabled)
    {
        await using var command = fleet.Db.CreateCommand("UPDATE users SET enabled = $2 WHERE username = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = username });
        command.Parameters.Add(new NpgsqlParameter { Value = enabled });
        await command.ExecuteNonQueryAsync(Ct);
    }
}
