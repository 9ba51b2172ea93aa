using System.Net;
using System.Security.Cryptography;
using System.Text;
using Fleet.TestSupport;
using Fleet.Web.Audit;
using Fleet.Web.Tests.Platform;
using Npgsql;

namespace Fleet.Web.Tests.Admin;

public sealed class ApiTokensApiTests(SeededFleet fleet) : IClassFixture<SeededFleet>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task A_token_is_shown_once_stored_as_its_hash_reads_within_its_department_may_not_write_and_stops_at_revocation()
    {
        var admin = await fleet.SessionAsync("admin", Ct);
        var finance = await fleet.DepartmentOfAsync("manager1", Ct);
        var vehicles = await fleet.VehiclesAsync(Ct);

        var created = await admin.SendJsonAsync(HttpMethod.Post, "/api/admin/tokens", new { name = "财政厅数据对接", role = "department_manager", departmentId = finance, expiresInDays = 30 }, Ct);

        Assert.Equal(HttpStatusCode.Created, created.Status);
        Assert.Equal("no-store", created.Message.Headers.CacheControl?.ToString());
        var secret = created.Body.GetProperty("secret").GetString()!;
        var id = created.Body.GetProperty("token").GetProperty("id").GetInt32();
        Assert.StartsWith("fleet_", secret, StringComparison.Ordinal);
        Assert.True(secret.Length >= 40, secret);
        Assert.False(created.Body.GetProperty("token").GetProperty("canWrite").GetBoolean());
        Assert.Equal("active", created.Body.GetProperty("token").GetProperty("state").GetString());
        Assert.Equal(fleet.Clock.GetUtcNow().AddDays(30), created.Body.GetProperty("token").GetProperty("expiresAt").GetDateTimeOffset(), TimeSpan.FromSeconds(1));
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(secret)), await ScalarAsync<byte[]>("SELECT token_hash FROM api_tokens WHERE id = $1", id));
        Assert.Equal(0L, await ScalarAsync<long>("SELECT count(*) FROM api_tokens t WHERE strpos(row_to_json(t)::text, $1) > 0", secret[6..]));
        var listed = await admin.GetApiAsync("/api/admin/tokens", Ct);
        Assert.DoesNotContain(secret, listed.Body.ToString(), StringComparison.Ordinal);

        // Reads as a department manager of finance would: its vehicles only.
        var own = await fleet.Host.BearerAsync(HttpMethod.Get, "/api/vehicles?pageSize=500", secret, null, Ct);
        Assert.Equal(HttpStatusCode.OK, own.Status);
        Assert.Equal(vehicles.Count(v => v.DepartmentId == finance), own.Body.GetProperty("total").GetInt64());
        Assert.All(own.Body.GetProperty("items").EnumerateArray(), v => Assert.Equal(finance, v.GetProperty("department").GetProperty("id").GetInt32()));
        var foreign = vehicles.First(v => v.DepartmentId != finance);
        Assert.Equal(HttpStatusCode.NotFound, (await fleet.Host.BearerAsync(HttpMethod.Get, $"/api/vehicles/{foreign.Id}", secret, null, Ct)).Status);
        var me = await fleet.Host.BearerAsync(HttpMethod.Get, "/api/auth/me", secret, null, Ct);
        Assert.Equal("department_manager", me.Body.GetProperty("role").GetString());
        Assert.Equal("财政厅数据对接", me.Body.GetProperty("displayName").GetString());

        // Read-only: a write is refused as such, before the endpoint runs.
        var write = await fleet.Host.BearerAsync(HttpMethod.Post, "/api/terminals", secret, new { id = "T-token-ro" }, Ct);
        Assert.Equal("只读令牌不能修改数据", write.AssertProblem(HttpStatusCode.Forbidden).GetProperty("title").GetString());
        Assert.Equal(0L, await ScalarAsync<long>("SELECT count(*) FROM terminals WHERE id = 'T-token-ro'"));
        Assert.NotNull(await ScalarAsync<DateTime?>("SELECT last_used_at FROM api_tokens WHERE id = $1", id));

        Assert.Equal(HttpStatusCode.NoContent, (await admin.SendJsonAsync(HttpMethod.Delete, $"/api/admin/tokens/{id}", null, Ct)).Status);
        var revoked = await fleet.Host.BearerAsync(HttpMethod.Get, "/api/vehicles", secret, null, Ct);
        Assert.Contains("revoked", revoked.AssertProblem(HttpStatusCode.Unauthorized).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.SendJsonAsync(HttpMethod.Delete, $"/api/admin/tokens/{id}", null, Ct)).Status);
        (await admin.SendJsonAsync(HttpMethod.Delete, "/api/admin/tokens/987654", null, Ct)).AssertProblem(HttpStatusCode.NotFound);
        var after = await admin.GetApiAsync("/api/admin/tokens", Ct);
        Assert.Equal("revoked", after.Body.GetProperty("items").EnumerateArray().Single(t => t.GetProperty("id").GetInt32() == id).GetProperty("state").GetString());

        var entries = await admin.AuditAsync($"?targetType=api_token&targetId={id}", Ct);
        Assert.Equal([AuditActions.ApiTokenRevoked, AuditActions.ApiTokenCreated], entries.Select(e => e.Action()));
        Assert.All(entries, e => Assert.Equal("admin", e.GetProperty("actorName").GetString()));
        Assert.DoesNotContain(secret, entries[1].ToString(), StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_write_token_changes_data_under_its_own_name_in_the_audit_log_but_cannot_manage_users_or_tokens()
    {
        var admin = await fleet.SessionAsync("admin", Ct);
        var created = await admin.SendJsonAsync(HttpMethod.Post, "/api/admin/tokens", new { name = "终端运维", role = "admin", canWrite = true, expiresInDays = 1 }, Ct);
        var secret = created.Body.GetProperty("secret").GetString()!;
        var id = created.Body.GetProperty("token").GetProperty("id").GetInt32();

        var terminal = await fleet.Host.BearerAsync(HttpMethod.Post, "/api/terminals", secret, new { id = "T-token-rw" }, Ct);

        Assert.Equal(HttpStatusCode.Created, terminal.Status);
        var entry = Assert.Single(await admin.AuditAsync("?action=terminal.created&targetId=T-token-rw", Ct));
        Assert.Equal($"token#{id}", entry.GetProperty("actorName").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, entry.GetProperty("actorUserId").ValueKind);
        Assert.Equal("admin", entry.GetProperty("actorRole").GetString());

        // User and token administration needs an administrator's session, not a token.
        (await fleet.Host.BearerAsync(HttpMethod.Get, "/api/admin/users", secret, null, Ct)).AssertProblem(HttpStatusCode.Unauthorized);
        (await fleet.Host.BearerAsync(HttpMethod.Post, "/api/admin/tokens", secret, new { name = "more", role = "admin", canWrite = true }, Ct)).AssertProblem(HttpStatusCode.Unauthorized);
        Assert.Equal(1L, await ScalarAsync<long>("SELECT count(*) FROM api_tokens WHERE created_by IS NOT NULL AND name = '终端运维'"));
    }

    [Fact(Timeout = 60_000)]
    public async Task A_token_stops_working_when_it_expires()
    {
        var admin = await fleet.SessionAsync("admin", Ct);
        var created = await admin.SendJsonAsync(HttpMethod.Post, "/api/admin/tokens", new { name = "短期", role = "supervisor", expiresInDays = 1 }, Ct);
        var secret = created.Body.GetProperty("secret").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await fleet.Host.BearerAsync(HttpMethod.Get, "/api/stats/live", secret, null, Ct)).Status);

        // Moved back afterwards: the class's cached sessions would expire too (the cookie follows the same clock).
        var jump = TimeSpan.FromDays(1) + TimeSpan.FromMinutes(1);
        fleet.Clock.Advance(jump);
        try
        {
            var expired = await fleet.Host.BearerAsync(HttpMethod.Get, "/api/stats/live", secret, null, Ct);
            Assert.Contains("expired", expired.AssertProblem(HttpStatusCode.Unauthorized).GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Equal("Bearer error=\"invalid_token\"", expired.Message.Headers.WwwAuthenticate.ToString());
        }
        finally
        {
            fleet.Clock.Advance(-jump);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Unknown_and_malformed_tokens_are_401_and_a_bearer_header_off_the_api_is_ignored()
    {
        foreach (var token in new[] { "abc", "fleet_" + new string('A', 43), new string('x', 500) })
        {
            (await fleet.Host.BearerAsync(HttpMethod.Get, "/api/vehicles", token, null, Ct)).AssertProblem(HttpStatusCode.Unauthorized);
        }

        using var page = new HttpRequestMessage(HttpMethod.Get, "/");
        page.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "abc");
        using var response = await fleet.Host.Client.SendAsync(page, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory(Timeout = 60_000)]
    [InlineData("{\"name\":\"x\",\"role\":\"supervisor\",\"expiresInDays\":0}", "expiresInDays")]
    [InlineData("{\"name\":\"x\",\"role\":\"supervisor\",\"expiresInDays\":367}", "expiresInDays")]
    [InlineData("{\"name\":\"x\",\"role\":\"supervisor\",\"expiresInDays\":\"30\"}", "expiresInDays")]
    [InlineData("{\"name\":\"x\",\"role\":\"root\"}", "role")]
    [InlineData("{\"role\":\"supervisor\"}", "name")]
    [InlineData("{\"name\":\"x\",\"role\":\"driver\"}", "departmentId")]
    [InlineData("{\"name\":\"x\",\"role\":\"driver\",\"departmentId\":987654}", "departmentId")]
    [InlineData("{\"name\":\"x\",\"role\":\"supervisor\",\"canWrite\":\"yes\"}", "canWrite")]
    [InlineData("{\"name\":\"x\",\"role\":\"supervisor\",\"secret\":\"mine\"}", "secret")]
    public async Task A_bad_token_request_is_a_400_naming_the_field(string body, string field)
    {
        var admin = await fleet.SessionAsync("admin", Ct);

        var problem = (await admin.SendRawAsync(HttpMethod.Post, "/api/admin/tokens", body, "application/json", Ct)).AssertProblem(HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact(Timeout = 60_000)]
    public async Task Only_administrators_issue_and_revoke_tokens()
    {
        foreach (var user in new[] { "supervisor", "dispatcher", "manager1" })
        {
            var client = await fleet.SessionAsync(user, Ct);
            (await client.GetApiAsync("/api/admin/tokens", Ct)).AssertProblem(HttpStatusCode.Forbidden);
            (await client.SendJsonAsync(HttpMethod.Post, "/api/admin/tokens", new { name = "x", role = "admin", canWrite = true }, Ct)).AssertProblem(HttpStatusCode.Forbidden);
            (await client.SendJsonAsync(HttpMethod.Delete, "/api/admin/tokens/1", null, Ct)).AssertProblem(HttpStatusCode.Forbidden);
        }

        (await fleet.Host.CreateSessionClient().GetApiAsync("/api/admin/tokens", Ct)).AssertProblem(HttpStatusCode.Unauthorized);
    }

    private async Task<T> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var command = fleet.Db.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        var value = await command.ExecuteScalarAsync(Ct);
        return value is DBNull ? default! : (T)value!;
    }
}
