using System.Globalization;
using Fleet.Mqtt.Client;
using Fleet.Simulator.Fleet;
using Fleet.Simulator.Running;
using Npgsql;

namespace Fleet.Simulator.Cli;

/// <summary>The commands behind Program.cs, with the output and the environment passed in so tests can run them.</summary>
public static class SimulatorApp
{
    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, Func<string, string?> environment, CancellationToken stop)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (args.Count > 0 && args[0] == Suite.SuiteCommand.Name)
        {
            return await Suite.SuiteCommand.RunAsync(args, output, environment, stop);
        }

        if (!CommandLineParser.TryParse(args, environment, out var command, out var error))
        {
            await output.WriteLineAsync($"error: {error}\nRun with --help for the options.");
            return 2;
        }

        if (command.Command == SimulatorCommand.Help)
        {
            await output.WriteAsync(CommandLineParser.HelpText);
            return 0;
        }

        IReadOnlyList<VehicleProfile> profiles;
        try
        {
            profiles = await LoadProfilesAsync(command, output, stop);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or InvalidDataException or NpgsqlException or ArgumentException)
        {
            await output.WriteLineAsync($"error: {ex.Message}");
            return 2;
        }

        SimulationRunner runner;
        try
        {
            runner = new SimulationRunner(profiles, command.Options, output);
        }
        catch (ArgumentException ex)
        {
            await output.WriteLineAsync($"error: {ex.Message}");
            return 2;
        }

        SimulationSummary summary;
        try
        {
            summary = await runner.RunAsync(stop);
        }
        catch (Exception ex) when (ex is MqttConnectException or TimeoutException or IOException or System.Net.Sockets.SocketException)
        {
            await output.WriteLineAsync($"error: {ex.Message}");
            return 1;
        }

        if (command.Command == SimulatorCommand.Bench)
        {
            var target = profiles.Count / command.Options.Interval.TotalSeconds;
            var sending = summary.SendingElapsed.TotalSeconds;
            await output.WriteLineAsync(string.Create(
                CultureInfo.InvariantCulture,
                $"[bench] {profiles.Count} vehicles, target {target:F0} reports/s: {summary.ReportsAcked} of {summary.Reports} reports acknowledged in {sending:F1} s = {summary.ReportsPerSecond:F0} reports/s; behind={summary.Behind}; cpu {summary.SendingCpuTime.TotalSeconds:F2} s = {summary.SendingCpuTime.TotalSeconds / sending * 100:F0}% of one core, {summary.CpuMicrosecondsPerReport:F1} µs per report"));
        }

        return summary.Errors == 0 && summary.Acked == summary.Sent ? 0 : 1;
    }

    private static async Task<IReadOnlyList<VehicleProfile>> LoadProfilesAsync(CommandLine command, TextWriter output, CancellationToken ct)
    {
        IReadOnlyList<TerminalCredential> terminals;
        if (command.CredentialsPath is { } path)
        {
            terminals = await FleetLoader.ReadCredentialsAsync(path, ct);
            if (command.Vehicles is { } wanted)
            {
                if (wanted > terminals.Count)
                {
                    throw new ArgumentException($"{path} holds {terminals.Count} terminals; --vehicles {wanted} asks for more.");
                }

                terminals = terminals.Take(wanted).ToList();
            }
        }
        else
        {
            // bench without a registry: synthetic terminals (the broker must let the load user publish for them).
            terminals = Enumerable.Range(1, command.Vehicles ?? 10_000)
                .Select(i => new TerminalCredential(string.Create(CultureInfo.InvariantCulture, $"SIM{i:D9}"), "", i, "蒙A"))
                .ToList();
        }

        var (profiles, fromRegistry) = await FleetLoader.BuildProfilesAsync(terminals, command.Database, command.Options.Seed, ct);
        if (command.Database is not null)
        {
            await output.WriteLineAsync($"[{command.Options.Label}] home lots from the registry for {fromRegistry} of {profiles.Count} vehicles; the rest by plate");
        }

        return profiles;
    }
}
