using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Fleet.Core.Tests.Security;

/// <summary>
/// A throwaway Mosquitto 2.0 on a free loopback port with a given password file: just enough to check that the broker
/// accepts our hashes. Started as root, Mosquitto drops to the <c>mosquitto</c> user, so the folder and files are
/// made world-readable.
/// </summary>
internal sealed class LocalMosquitto : IAsyncDisposable
{
    public const string BrokerPath = "/usr/sbin/mosquitto";
    public const string PubPath = "/usr/bin/mosquitto_pub";
    public const string PasswdPath = "/usr/bin/mosquitto_passwd";

    private const UnixFileMode WorldReadableDirectory =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private const UnixFileMode WorldReadableFile =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    private readonly Process _process;
    private readonly StringBuilder _log;

    private LocalMosquitto(string directory, int port, Process process, StringBuilder log)
    {
        Directory = directory;
        Port = port;
        _process = process;
        _log = log;
    }

    public string Directory { get; }

    public int Port { get; }

    /// <summary>Fails (never skips) when a Mosquitto executable is missing.</summary>
    public static void RequireInstalled()
    {
        foreach (var path in new[] { BrokerPath, PubPath, PasswdPath })
        {
            if (!File.Exists(path))
            {
                Assert.Fail($"{path} is missing: run ./fleet setup");
            }
        }
    }

    public static string CreateTempDirectory()
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("fleet-core-hash-").FullName;
        SetMode(directory, WorldReadableDirectory);
        return directory;
    }

    /// <summary>Starts a broker whose password file holds <paramref name="passwordFileLines"/> (<c>user:hash</c>).</summary>
    public static async Task<LocalMosquitto> StartAsync(IEnumerable<string> passwordFileLines, CancellationToken ct)
    {
        RequireInstalled();
        var directory = CreateTempDirectory();
        var passwordFile = Path.Combine(directory, "passwd");
        await File.WriteAllLinesAsync(passwordFile, passwordFileLines, ct);
        SetMode(passwordFile, WorldReadableFile);

        var port = FreePort();
        var config = Path.Combine(directory, "mosquitto.conf");
        await File.WriteAllTextAsync(
            config,
            string.Create(
                CultureInfo.InvariantCulture,
                $"""
                listener {port} 127.0.0.1
                allow_anonymous false
                password_file {passwordFile}
                persistence false
                log_dest stderr

                """),
            ct);
        SetMode(config, WorldReadableFile);

        var log = new StringBuilder();
        var process = new Process
        {
            StartInfo = new ProcessStartInfo(BrokerPath) { ArgumentList = { "-c", config }, RedirectStandardError = true, RedirectStandardOutput = true },
        };
        process.ErrorDataReceived += (_, e) => Append(log, e.Data);
        process.OutputDataReceived += (_, e) => Append(log, e.Data);
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var broker = new LocalMosquitto(directory, port, process, log);
        try
        {
            await broker.WaitUntilListeningAsync(ct);
            return broker;
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs <c>mosquitto_pub</c> against the broker; returns its exit code and output.</summary>
    public Task<(int ExitCode, string Output)> PublishAsync(string username, string password, CancellationToken ct) =>
        RunAsync(PubPath, ["-h", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-u", username, "-P", password, "-t", "t", "-m", "x"], ct);

    public static async Task<(int ExitCode, string Output)> RunAsync(string executable, IEnumerable<string> arguments, CancellationToken ct)
    {
        var start = new ProcessStartInfo(executable) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        try
        {
            await process.WaitForExitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout + await stderr);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync(CancellationToken.None);
            }
        }
        finally
        {
            _process.Dispose();
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }

    private async Task WaitUntilListeningAsync(CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (_process.HasExited)
            {
                Assert.Fail($"mosquitto exited with code {_process.ExitCode}: {Log()}");
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port, ct);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50, ct);
            }
        }

        Assert.Fail($"mosquitto did not listen on port {Port} within 10 s: {Log()}");
    }

    private string Log()
    {
        lock (_log)
        {
            return _log.ToString();
        }
    }

    private static void Append(StringBuilder log, string? line)
    {
        if (line is not null)
        {
            lock (log)
            {
                log.AppendLine(line);
            }
        }
    }

    private static void SetMode(string path, UnixFileMode mode)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, mode);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
