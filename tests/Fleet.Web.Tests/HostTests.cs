using System.Net;
using System.Text.Json;
using Fleet.TestSupport;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Fleet.Web.Tests;

public sealed class HostTests(PostgresFixture postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task Host_migrates_an_empty_database_on_start_and_reports_healthy()
    {
        var dataSource = await postgres.CreateDatabaseAsync(withExtensions: false, cancellationToken: Ct);

        await using var host = await FleetHost.StartAsync(dataSource.ConnectionString, Ct);
        using var response = await host.Client.GetAsync("/health", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal("Healthy", body.RootElement.GetProperty("status").GetString());
        var database = body.RootElement.GetProperty("checks").GetProperty("database");
        Assert.Equal("Healthy", database.GetProperty("status").GetString());

        await using var count = dataSource.CreateCommand("SELECT count(*), max(version) FROM schema_migrations");
        await using var reader = await count.ExecuteReaderAsync(Ct);
        Assert.True(await reader.ReadAsync(Ct));
        Assert.True(reader.GetInt64(0) >= 1);
        Assert.Equal($"schema version {reader.GetInt32(1)}", database.GetProperty("description").GetString());
    }

    [Fact(Timeout = 90_000)]
    public async Task Health_answers_503_when_the_database_goes_away()
    {
        var server = await PostgresServer.StartAsync(Ct);
        await using (server)
        {
            var builder = server.CreateConnectionStringBuilder();
            builder.Timeout = 3;
            await using var host = await FleetHost.StartAsync(builder.ConnectionString, Ct);
            using (var healthy = await host.Client.GetAsync("/health", Ct))
            {
                Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);
            }

            await server.DisposeAsync();
            NpgsqlConnection.ClearAllPools();

            using var down = await host.Client.GetAsync("/health", Ct);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
            using var body = JsonDocument.Parse(await down.Content.ReadAsStringAsync(Ct));
            Assert.Equal("Unhealthy", body.RootElement.GetProperty("checks").GetProperty("database").GetProperty("status").GetString());
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Host_refuses_to_start_without_a_connection_string_and_names_the_setting()
    {
        await using var app = FleetHost.Build(new Dictionary<string, string?> { ["Fleet:Database:ConnectionString"] = "" });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync(Ct));

        Assert.Contains("Fleet:Database:ConnectionString", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Unknown_routes_answer_problem_details()
    {
        var dataSource = await postgres.CreateDatabaseAsync(cancellationToken: Ct);
        await using var host = await FleetHost.StartAsync(dataSource.ConnectionString, Ct);

        using var response = await host.Client.GetAsync("/api/no-such-thing", Ct);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal(404, body.RootElement.GetProperty("status").GetInt32());
    }
}
