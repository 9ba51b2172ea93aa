using System.Text.Json;
using Fleet.TestSupport;
using Fleet.Web.Demo;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace Fleet.Web.Tests.Demo;

public sealed class DemoSeedingTests(PostgresFixture postgres) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("fleet-demo-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static async Task<long> CountAsync(NpgsqlDataSource db, string table)
    {
        // Table names come from this file only.
        await using var command = db.CreateCommand($"SELECT count(*) FROM {table}");
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }

    [Fact(Timeout = 90_000)]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task The_host_seeds_an_empty_registry_once_and_writes_the_demo_credentials()
    {
        var db = await postgres.CreateDatabaseAsync(cancellationToken: Ct);
        var credentials = Path.Combine(_directory, "demo-credentials.json");
        var settings = new Dictionary<string, string?>
        {
            ["Fleet:Database:ConnectionString"] = db.ConnectionString,
            ["Fleet:Demo:SeedVehicles"] = "40",
            ["Fleet:Demo:CredentialsFile"] = credentials,
        };

        await using (var first = FleetHost.Build(settings))
        {
            await first.StartAsync(Ct);
            await first.StopAsync(Ct);
        }

        Assert.Equal(40, await CountAsync(db, "vehicles"));
        Assert.Equal(40, await CountAsync(db, "terminals"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(credentials));
        using (var file = JsonDocument.Parse(await File.ReadAllTextAsync(credentials, Ct)))
        {
            Assert.Contains("DEMO ONLY", file.RootElement.GetProperty("notice").GetString(), StringComparison.Ordinal);
            Assert.Equal(40, file.RootElement.GetProperty("terminals").GetArrayLength());
            Assert.Contains(file.RootElement.GetProperty("users").EnumerateArray(), u => u.GetProperty("role").GetString() == "admin");
        }

        // A restart finds vehicles and leaves the registry, and the credentials written the first time, alone.
        File.Delete(credentials);
        await using (var second = FleetHost.Build(settings))
        {
            await second.StartAsync(Ct);
            await second.StopAsync(Ct);
        }

        Assert.Equal(40, await CountAsync(db, "vehicles"));
        Assert.False(File.Exists(credentials));
    }

    [Fact(Timeout = 90_000)]
    public async Task The_seed_command_shows_progress_and_seeds_only_an_empty_registry()
    {
        var db = await postgres.CreateDatabaseAsync(cancellationToken: Ct);
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Fleet:Database:ConnectionString"] = db.ConnectionString })
            .Build();
        var credentials = Path.Combine(_directory, "seeded.json");

        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await SeedCommand.RunAsync(["--vehicles", "25", "--credentials", credentials], configuration, output, error, Ct);

        Assert.Equal(0, code);
        Assert.Empty(error.ToString());
        Assert.Contains("100%", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("Seeded 25 vehicles", output.ToString(), StringComparison.Ordinal);
        Assert.True(File.Exists(credentials));

        using var again = new StringWriter();
        Assert.Equal(0, await SeedCommand.RunAsync(["--vehicles", "25"], configuration, again, error, Ct));
        Assert.Contains("already holds 25 vehicles", again.ToString(), StringComparison.Ordinal);
        Assert.Equal(25, await CountAsync(db, "vehicles"));
    }

    [Theory]
    [InlineData(new[] { "--vehicles", "0" }, "'--vehicles' '0'")]
    [InlineData(new[] { "--vehicles", "100001" }, "'--vehicles' '100001'")]
    [InlineData(new[] { "--colour", "red" }, "'--colour'")]
    [InlineData(new[] { "--seed" }, "'--seed'")]
    public async Task The_seed_command_rejects_bad_arguments_with_usage(string[] args, string named)
    {
        var configuration = new ConfigurationBuilder().Build();
        using var output = new StringWriter();
        using var error = new StringWriter();

        Assert.Equal(2, await SeedCommand.RunAsync(args, configuration, output, error, Ct));

        Assert.Contains(named, error.ToString(), StringComparison.Ordinal);
        Assert.Contains("usage: seed", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_seed_command_without_a_database_names_the_setting()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        Assert.Equal(2, await SeedCommand.RunAsync([], new ConfigurationBuilder().Build(), output, error, Ct));

        Assert.Contains("Fleet__Database__ConnectionString", error.ToString(), StringComparison.Ordinal);
    }
}
