using System.Net;
using System.Text.Json;
using Fleet.Core.Security;
using Fleet.Mqtt.Client;
using Fleet.Web.Terminals;
using Fleet.Web.Tests.Platform;
using Npgsql;

namespace Fleet.Web.Tests.Terminals;

public sealed class TerminalsApiTests(CoHostedPlatform platform) : IClassFixture<CoHostedPlatform>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 40_000)]
    public async Task A_terminal_added_disabled_and_rekeyed_through_the_api_takes_effect_in_the_running_broker()
    {
        var admin = await platform.SessionAsync("admin", Ct);
        var brokerPid = platform.Broker.ProcessId;
        var pidFile = await File.ReadAllTextAsync(platform.PidFile, Ct);
        Assert.NotNull(brokerPid);

        // Frees a vehicle by unbinding its seeded terminal, then gives the vehicle a new terminal.
        var seeded = platform.SeededTerminals[0];
        var unbound = await admin.SendJsonAsync(HttpMethod.Patch, $"/api/terminals/{seeded.Id}", new { vehicleId = (long?)null }, Ct);
        Assert.Equal(HttpStatusCode.OK, unbound.Status);
        Assert.Equal(JsonValueKind.Null, unbound.Body.GetProperty("vehicleId").ValueKind);

        var created = await admin.SendJsonAsync(HttpMethod.Post, "/api/terminals", new { id = "T-api.live_1", vehicleId = seeded.VehicleId }, Ct);
        Assert.Equal(HttpStatusCode.Created, created.Status);
        Assert.Equal("/api/terminals/T-api.live_1", created.Message.Headers.Location?.OriginalString);
        Assert.Equal("no-store", created.Message.Headers.CacheControl?.ToString());
        Assert.Equal("T-api.live_1", created.Body.GetProperty("id").GetString());
        Assert.Equal(seeded.VehicleId, created.Body.GetProperty("vehicleId").GetInt64());
        Assert.True(created.Body.GetProperty("enabled").GetBoolean());
        var password = created.Body.GetProperty("password").GetString()!;
        Assert.True(password.Length >= 20, password);
        Assert.All(password, c => Assert.Contains(c, TerminalRules.PasswordAlphabet));

        // Stored as the broker's hash only.
        var hash = await HashOfAsync("T-api.live_1");
        Assert.DoesNotContain(password, hash, StringComparison.Ordinal);
        Assert.True(MosquittoPasswordHash.Verify(password, hash));

        // The new terminal connects and may publish on its own topic only.
        await using (var client = await platform.ConnectWhenAcceptedAsync("T-api.live_1", password, Ct))
        {
            var own = await CoHostedPlatform.PublishReportAsync(client, "T-api.live_1", Ct);
            Assert.True(own.IsSuccess, own.ReasonName);
            var foreign = await CoHostedPlatform.PublishReportAsync(client, platform.SeededTerminals[1].Id, Ct);
            Assert.False(foreign.IsSuccess, "a terminal published under another terminal's topic");
            Assert.True(client.IsConnected);

            // Disabling closes the open connection and refuses new ones.
            var disabled = await admin.SendJsonAsync(HttpMethod.Patch, "/api/terminals/T-api.live_1", new { enabled = false }, Ct);
            Assert.Equal(HttpStatusCode.OK, disabled.Status);
            Assert.False(disabled.Body.GetProperty("enabled").GetBoolean());
            Assert.Equal(seeded.VehicleId, disabled.Body.GetProperty("vehicleId").GetInt64());
            await EventuallyAsync(() => !client.IsConnected, "the disabled terminal's open connection was not closed");
        }

        await platform.ConnectWhenRefusedAsync("T-api.live_1", password, Ct);

        // Re-enabled, then rotated: the old password stops working, the new one works.
        Assert.Equal(HttpStatusCode.OK, (await admin.SendJsonAsync(HttpMethod.Patch, "/api/terminals/T-api.live_1", new { enabled = true }, Ct)).Status);
        await (await platform.ConnectWhenAcceptedAsync("T-api.live_1", password, Ct)).DisposeAsync();

        var rotated = await admin.SendJsonAsync(HttpMethod.Post, "/api/terminals/T-api.live_1/credential", null, Ct);
        Assert.Equal(HttpStatusCode.OK, rotated.Status);
        Assert.Equal("no-store", rotated.Message.Headers.CacheControl?.ToString());
        var newPassword = rotated.Body.GetProperty("password").GetString()!;
        Assert.NotEqual(password, newPassword);
        Assert.True(rotated.Body.GetProperty("enabled").GetBoolean());
        Assert.True(MosquittoPasswordHash.Verify(newPassword, await HashOfAsync("T-api.live_1")));

        await platform.ConnectWhenRefusedAsync("T-api.live_1", password, Ct);
        await using (var client = await platform.ConnectAsync("T-api.live_1", newPassword, Ct))
        {
            var report = await CoHostedPlatform.PublishReportAsync(client, "T-api.live_1", Ct);
            Assert.True(report.IsSuccess, report.ReasonName);
        }

        // All of it without a broker restart.
        Assert.Equal(brokerPid, platform.Broker.ProcessId);
        Assert.Equal(pidFile, await File.ReadAllTextAsync(platform.PidFile, Ct));
    }

    [Fact(Timeout = 20_000)]
    public async Task Bad_ids_service_user_names_unknown_vehicles_and_bad_bodies_are_400_with_the_field()
    {
        var admin = await platform.SessionAsync("admin", Ct);
        var badIds = new[] { "a/b", "+", "#", "", "a b", "abc\n", new string('a', 65), "fleet-gateway", "fleet-simulator", "Fleet-Anything" };
        foreach (var id in badIds)
        {
            var response = await admin.SendJsonAsync(HttpMethod.Post, "/api/terminals", new { id }, Ct);
            var problem = response.AssertProblem(HttpStatusCode.BadRequest);
            Assert.Equal("请求参数无效", problem.GetProperty("title").GetString());
            Assert.True(problem.GetProperty("errors").TryGetProperty("id", out _), $"no error on id for '{id}'");
        }

        // 64 characters is still an id.
        var longest = new string('b', 64);
        Assert.Equal(HttpStatusCode.Created, (await admin.SendJsonAsync(HttpMethod.Post, "/api/terminals", new { id = longest }, Ct)).Status);

        AssertFieldError(await admin.SendJsonAsync(HttpMethod.Post, "/api/terminals", new { id = "T-unknown-vehicle", vehicleId = 987_654_321L }, Ct), "vehicleId");
        AssertFieldError(await admin.SendJsonAsync(HttpMethod.Post, "/api/terminals", new { id = "T-bad-vehicle", vehicleId = "12" }, Ct), "vehicleId");
        AssertFieldError(await admin.SendJsonAsync(HttpMethod.Post, "/api/terminals", new { vehicleId = 1 }, Ct), "id");
        AssertFieldError(await admin.SendJsonAsync(HttpMethod.Post, "/api/terminals", new { id = "T-with-password", password = "mine" }, Ct), "password");
        AssertFieldError(await admin.SendRawAsync(HttpMethod.Post, "/api/terminals", "{\"id\":", "application/json", Ct), "body");
        AssertFieldError(await admin.SendRawAsync(HttpMethod.Post, "/api/terminals", "id=T-form", "application/x-www-form-urlencoded", Ct), "body");
        AssertFieldError(await admin.SendJsonAsync(HttpMethod.Patch, $"/api/terminals/{longest}", new { enabled = "no" }, Ct), "enabled");
        AssertFieldError(await admin.SendJsonAsync(HttpMethod.Patch, $"/api/terminals/{longest}", new { vehicleId = 987_654_321L }, Ct), "vehicleId");
        AssertFieldError(await admin.GetApiAsync("/api/terminals?enabled=yes&vehicleId=-1&pageSize=501", Ct), "enabled", "vehicleId", "pageSize");

        // None of the refused requests left a row behind.
        await using var count = platform.Db.CreateCommand("SELECT count(*) FROM terminals WHERE id LIKE 'T-%' AND id <> 'T-api.live_1'");
        Assert.Equal(0L, await count.ExecuteScalarAsync(Ct));
    }

    [Fact(Timeout = 20_000)]
    public async Task A_duplicate_id_or_a_vehicle_that_already_has_a_terminal_is_409_and_unknown_ids_are_404()
    {
        var admin = await platform.SessionAsync("admin", Ct);
        var (takenId, _, takenVehicle) = platform.SeededTerminals[1];

        var duplicate = (await admin.SendJsonAsync(HttpMethod.Post, "/api/terminals", new { id = takenId }, Ct)).AssertProblem(HttpStatusCode.Conflict);
        Assert.Equal("终端编号已存在", duplicate.GetProperty("title").GetString());
        Assert.Equal("id", duplicate.GetProperty("field").GetString());

        var bound = (await admin.SendJsonAsync(HttpMethod.Post, "/api/terminals", new { id = "T-second-for-vehicle", vehicleId = takenVehicle }, Ct)).AssertProblem(HttpStatusCode.Conflict);
        Assert.Equal("该车辆已绑定终端", bound.GetProperty("title").GetString());
        Assert.Equal("vehicleId", bound.GetProperty("field").GetString());
        Assert.Contains(takenVehicle.ToString(System.Globalization.CultureInfo.InvariantCulture), bound.GetProperty("detail").GetString(), StringComparison.Ordinal);

        var other = platform.SeededTerminals[2].Id;
        (await admin.SendJsonAsync(HttpMethod.Patch, $"/api/terminals/{other}", new { vehicleId = takenVehicle }, Ct)).AssertProblem(HttpStatusCode.Conflict);

        // Nothing changed: the second terminal keeps its vehicle, the first is unchanged.
        var kept = await admin.GetApiAsync($"/api/terminals/{other}", Ct);
        Assert.Equal(platform.SeededTerminals[2].VehicleId, kept.Body.GetProperty("vehicleId").GetInt64());
        Assert.Equal(takenVehicle, (await admin.GetApiAsync($"/api/terminals/{takenId}", Ct)).Body.GetProperty("vehicleId").GetInt64());

        var notFound = (await admin.SendJsonAsync(HttpMethod.Patch, "/api/terminals/T-nobody", new { enabled = false }, Ct)).AssertProblem(HttpStatusCode.NotFound);
        Assert.Equal("未找到", notFound.GetProperty("title").GetString());
        (await admin.SendJsonAsync(HttpMethod.Post, "/api/terminals/T-nobody/credential", null, Ct)).AssertProblem(HttpStatusCode.NotFound);
        (await admin.GetApiAsync("/api/terminals/T-nobody", Ct)).AssertProblem(HttpStatusCode.NotFound);
    }

    [Fact(Timeout = 20_000)]
    public async Task Only_admins_may_use_the_terminal_api_and_anonymous_callers_get_401()
    {
        var seeded = platform.SeededTerminals[3].Id;
        var hashBefore = await HashOfAsync(seeded);
        foreach (var username in new[] { "dispatcher", "supervisor", "manager1" })
        {
            var session = await platform.SessionAsync(username, Ct);
            foreach (var response in await CallEveryEndpointAsync(session, seeded))
            {
                var problem = response.AssertProblem(HttpStatusCode.Forbidden);
                Assert.Equal("无权访问", problem.GetProperty("title").GetString());
            }
        }

        using var anonymous = platform.Anonymous();
        foreach (var response in await CallEveryEndpointAsync(anonymous, seeded))
        {
            response.AssertProblem(HttpStatusCode.Unauthorized);
        }

        Assert.Equal(hashBefore, await HashOfAsync(seeded));
        await using var count = platform.Db.CreateCommand("SELECT count(*) FROM terminals WHERE id = 'T-forbidden'");
        Assert.Equal(0L, await count.ExecuteScalarAsync(Ct));
    }

    [Fact(Timeout = 20_000)]
    public async Task The_list_pages_and_filters_with_plates_and_never_shows_a_credential()
    {
        var admin = await platform.SessionAsync("admin", Ct);
        await using var total = platform.Db.CreateCommand("SELECT count(*) FROM terminals");
        var expected = (long)(await total.ExecuteScalarAsync(Ct))!;

        var all = await admin.GetApiAsync("/api/terminals?pageSize=500", Ct);
        Assert.Equal(HttpStatusCode.OK, all.Status);
        Assert.Equal(expected, all.Body.GetProperty("total").GetInt64());
        var items = all.Body.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(expected, items.Count);
        var ids = items.Select(i => i.GetProperty("id").GetString()!).ToList();
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
        foreach (var item in items)
        {
            Assert.Equal(
                new[] { "createdAt", "enabled", "id", "plate", "updatedAt", "vehicleId" },
                item.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        }

        Assert.DoesNotContain("$7$", all.Body.GetRawText(), StringComparison.Ordinal);
        Assert.DoesNotContain("hash", all.Body.GetRawText(), StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("password", all.Body.GetRawText(), StringComparison.OrdinalIgnoreCase);

        var (id, _, vehicleId) = platform.SeededTerminals[4];
        var byVehicle = await admin.GetApiAsync($"/api/terminals?vehicleId={vehicleId}", Ct);
        var one = Assert.Single(byVehicle.Body.GetProperty("items").EnumerateArray());
        Assert.Equal(id, one.GetProperty("id").GetString());
        await using (var plate = platform.Db.CreateCommand("SELECT plate FROM vehicles WHERE id = $1"))
        {
            plate.Parameters.Add(new NpgsqlParameter { Value = vehicleId });
            Assert.Equal(await plate.ExecuteScalarAsync(Ct), one.GetProperty("plate").GetString());
        }

        var paged = await admin.GetApiAsync("/api/terminals?page=2&pageSize=2", Ct);
        Assert.Equal(ids.Skip(2).Take(2), paged.Body.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!));
        Assert.Equal(expected, paged.Body.GetProperty("total").GetInt64());

        await using var disabledCount = platform.Db.CreateCommand("SELECT count(*) FROM terminals WHERE NOT enabled");
        var disabled = await admin.GetApiAsync("/api/terminals?enabled=false", Ct);
        Assert.Equal((long)(await disabledCount.ExecuteScalarAsync(Ct))!, disabled.Body.GetProperty("total").GetInt64());
        Assert.All(disabled.Body.GetProperty("items").EnumerateArray(), i => Assert.False(i.GetProperty("enabled").GetBoolean()));
    }

    private static async Task<List<ApiResponse>> CallEveryEndpointAsync(HttpClient client, string terminalId) =>
    [
        await client.GetApiAsync("/api/terminals", Ct),
        await client.GetApiAsync($"/api/terminals/{terminalId}", Ct),
        await client.SendJsonAsync(HttpMethod.Post, "/api/terminals", new { id = "T-forbidden" }, Ct),
        await client.SendJsonAsync(HttpMethod.Patch, $"/api/terminals/{terminalId}", new { enabled = false }, Ct),
        await client.SendJsonAsync(HttpMethod.Post, $"/api/terminals/{terminalId}/credential", null, Ct),
    ];

    private static void AssertFieldError(ApiResponse response, params string[] fields)
    {
        var errors = response.AssertProblem(HttpStatusCode.BadRequest).GetProperty("errors");
        foreach (var field in fields)
        {
            Assert.True(errors.TryGetProperty(field, out _), $"no error on {field}: {errors}");
        }
    }

    private async Task<string> HashOfAsync(string terminalId)
    {
        await using var command = platform.Db.CreateCommand("SELECT credential_hash FROM terminals WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = terminalId });
        return (string)(await command.ExecuteScalarAsync(Ct))!;
    }

    private static async Task EventuallyAsync(Func<bool> condition, string message)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, message);
            await Task.Delay(50, Ct);
        }
    }
}
