using System.Globalization;
using Fleet.Simulator.Behaviour;
using Fleet.Simulator.Cli;

namespace Fleet.Simulator.Tests;

public sealed class CommandLineTests
{
    private static string? NoEnvironment(string name) => null;

    [Fact(Timeout = 10_000)]
    public async Task Help_describes_every_scenario_and_the_connection_flags()
    {
        var output = new StringWriter(CultureInfo.InvariantCulture);

        var exitCode = await SimulatorApp.RunAsync(["--help"], output, NoEnvironment, TestContext.Current.CancellationToken);

        Assert.Equal(0, exitCode);
        var help = output.ToString();
        foreach (var (name, _, _) in Scenarios.All)
        {
            Assert.Contains($"  {name} ", help, StringComparison.Ordinal);
        }

        foreach (var flag in new[] { "--credentials", "--host", "--port", "--vehicles", "--interval", "--connections", "--load", "--username", "--password", "--load-connections", "--db", "--seed", "--duration", "--scenario", "--rate" })
        {
            Assert.Contains(flag + " ", help, StringComparison.Ordinal);
        }
    }

    [Fact(Timeout = 10_000)]
    public void Simulate_flags_become_options_and_the_password_may_come_from_the_environment()
    {
        var ok = CommandLineParser.TryParse(
            ["simulate", "--credentials", "c.json", "--host", "10.0.0.2", "--port", "1884", "--vehicles", "50", "--interval", "2s", "--connections", "10",
             "--load", "--load-connections", "3", "--seed", "5", "--duration", "1m", "--scenario", "night-away", "--scenario-share", "0.25", "--db", "Host=x"],
            name => name == CommandLineParser.PasswordVariable ? "secret" : null,
            out var line,
            out var error);

        Assert.True(ok, error);
        Assert.Equal(SimulatorCommand.Simulate, line.Command);
        Assert.Equal(("10.0.0.2", 1884, TimeSpan.FromSeconds(2), 10, 3, 5), (line.Options.Host, line.Options.Port, line.Options.Interval, line.Options.OwnConnections, line.Options.LoadConnections, line.Options.Seed));
        Assert.Equal(("fleet-simulator", "secret"), (line.Options.LoadUsername, line.Options.LoadPassword));
        Assert.Equal(TimeSpan.FromMinutes(1), line.Options.Duration);
        Assert.Equal((ScenarioKind.NightAway, 0.25), (line.Options.Behaviour.Scenario, line.Options.Behaviour.AffectedShare));
        Assert.Equal((50, "c.json", "Host=x"), (line.Vehicles, line.CredentialsPath, line.Database));
    }

    [Fact(Timeout = 10_000)]
    public void Bench_runs_everything_in_load_mode_at_the_asked_rate()
    {
        var ok = CommandLineParser.TryParse(["bench", "--vehicles", "20000", "--rate", "40000", "--password", "p"], NoEnvironment, out var line, out var error);

        Assert.True(ok, error);
        Assert.Equal(TimeSpan.FromMilliseconds(500), line.Options.Interval);
        Assert.Equal(0, line.Options.OwnConnections);
        Assert.Equal("fleet-simulator", line.Options.LoadUsername);
        Assert.True(line.Options.Behaviour.Continuous);
        Assert.Equal(TimeSpan.FromSeconds(30), line.Options.Duration);
    }

    [Theory(Timeout = 10_000)]
    [InlineData("500ms", 0.5)]
    [InlineData("10s", 10)]
    [InlineData("5m", 300)]
    [InlineData("1h", 3600)]
    [InlineData("7", 7)]
    public void Durations_take_a_unit_or_default_to_seconds(string text, double seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), CommandLineParser.ParseDuration("--interval", text));

    [Theory(Timeout = 10_000)]
    [InlineData("simulate")]
    [InlineData("simulate --credentials c.json --scenario rush-hour")]
    [InlineData("simulate --credentials c.json --port 70000")]
    [InlineData("simulate --credentials c.json --frobnicate")]
    [InlineData("simulate --credentials c.json --rate 5")]
    [InlineData("fly")]
    public async Task Bad_command_lines_exit_with_code_2_and_say_why(string args)
    {
        var output = new StringWriter(CultureInfo.InvariantCulture);

        var exitCode = await SimulatorApp.RunAsync(args.Split(' '), output, NoEnvironment, TestContext.Current.CancellationToken);

        Assert.Equal(2, exitCode);
        Assert.StartsWith("error: ", output.ToString(), StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task More_vehicles_than_own_connections_without_load_mode_is_refused_before_connecting()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("fleet-simulator-").FullName, "c.json");
        await File.WriteAllTextAsync(path, """{"terminals":[{"terminalId":"T1","password":"a","vehicleId":1,"plate":"蒙A00001"},{"terminalId":"T2","password":"b","vehicleId":2,"plate":"蒙A00002"}]}""", TestContext.Current.CancellationToken);
        var output = new StringWriter(CultureInfo.InvariantCulture);

        var exitCode = await SimulatorApp.RunAsync(["simulate", "--credentials", path, "--connections", "1", "--port", "1"], output, NoEnvironment, TestContext.Current.CancellationToken);

        Assert.Equal(2, exitCode);
        Assert.Contains("load mode", output.ToString(), StringComparison.Ordinal);
    }
}
