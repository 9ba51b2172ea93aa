using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;

namespace Fleet.TestSupport;

/// <summary>
/// A running <c>mosquitto_sub</c> with debug output on, so a test can wait until the broker has acknowledged its
/// SUBSCRIBE before publishing. Received messages are printed as <c>MSG|topic|payload</c> lines.
/// </summary>
public sealed class MosquittoSubProcess : IAsyncDisposable
{
    public const string MessagePrefix = "MSG|";
    private const string StdbufPath = "/usr/bin/stdbuf";

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly TaskCompletionSource _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly StringBuilder _stderr = new();

    private MosquittoSubProcess(Process process) => _process = process;

    /// <summary>
    /// Starts <c>mosquitto_sub -C count -W timeout</c> on <paramref name="topic"/>. It exits after <paramref name="count"/>
    /// messages or when <paramref name="timeoutSeconds"/> pass.
    /// </summary>
    public static MosquittoSubProcess Start(MosquittoServer server, string topic, int count, int timeoutSeconds, int qos = 1, string? username = null, string? password = null, string protocol = "mqttv5")
    {
        // mosquitto_sub block-buffers stdout into a pipe; stdbuf makes it line-buffered so SUBACK is seen at once.
        var lineBuffered = File.Exists(StdbufPath);
        var startInfo = new ProcessStartInfo(lineBuffered ? StdbufPath : MosquittoServer.MosquittoSubPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        string[] arguments =
        [
            "-h", MosquittoServer.Host, "-p", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-u", username ?? MosquittoServer.AdminUser, "-P", password ?? server.AdminPassword,
            "-V", protocol, "-q", qos.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-t", topic, "-C", count.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-W", timeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-d", "-F", MessagePrefix + "%t|%p",
        ];
        if (lineBuffered)
        {
            startInfo.ArgumentList.Add("-oL");
            startInfo.ArgumentList.Add(MosquittoServer.MosquittoSubPath);
        }

        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var sub = new MosquittoSubProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            sub._lines.Enqueue(e.Data);
            if (e.Data.Contains("received SUBACK", StringComparison.Ordinal))
            {
                sub._subscribed.TrySetResult();
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (sub._stderr)
                {
                    sub._stderr.AppendLine(e.Data);
                }
            }
        };
        process.Exited += (_, _) => sub._subscribed.TrySetException(new InvalidOperationException($"mosquitto_sub exited before subscribing: {sub.Output}"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return sub;
    }

    /// <summary>Everything printed so far (debug lines included).</summary>
    public string Output
    {
        get
        {
            string stderr;
            lock (_stderr)
            {
                stderr = _stderr.ToString();
            }

            return string.Join('\n', _lines) + "\n" + stderr;
        }
    }

    /// <summary>The payloads received so far, in order.</summary>
    public IReadOnlyList<(string Topic, string Payload)> Messages => _lines
        .Where(line => line.StartsWith(MessagePrefix, StringComparison.Ordinal))
        .Select(line =>
        {
            var rest = line[MessagePrefix.Length..];
            var separator = rest.IndexOf('|', StringComparison.Ordinal);
            return (rest[..separator], rest[(separator + 1)..]);
        })
        .ToList();

    public Task WaitUntilSubscribedAsync(CancellationToken cancellationToken = default) => _subscribed.Task.WaitAsync(cancellationToken);

    /// <summary>Waits for the process to exit (count reached or -W timeout) and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(CancellationToken cancellationToken = default)
    {
        await _process.WaitForExitAsync(cancellationToken);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            await _process.WaitForExitAsync(CancellationToken.None);
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped.
        }

        _process.Dispose();
    }
}
