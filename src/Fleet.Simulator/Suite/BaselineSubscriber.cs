using System.Buffers.Text;
using System.Globalization;
using Fleet.Mqtt.Client;
using Fleet.Mqtt.Protocol;

namespace Fleet.Simulator.Suite;

/// <summary>
/// The broker baseline's do-nothing subscriber: QoS 1 on <c>{prefix}/+/telemetry</c>, it counts what arrives and
/// reads only the leading <c>ts</c> of each payload for the latency. Everything else the pipeline does is absent.
/// </summary>
public sealed class BaselineSubscriber : IAsyncDisposable
{
    private static readonly byte[] TsPrefix = "{\"ts\":"u8.ToArray();

    private readonly MqttClient _client;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private long _received;
    private LatencyHistogram? _latency;
    private long _fromMs;
    private long _toMs;

    private BaselineSubscriber(MqttClient client) => _client = client;

    /// <summary>Messages received since the start.</summary>
    public long Received => Interlocked.Read(ref _received);

    public static async Task<BaselineSubscriber> StartAsync(string host, int port, string username, string? password, string topicPrefix, CancellationToken ct)
    {
        var client = new MqttClient(new MqttClientOptions
        {
            Host = host,
            Port = port,
            ClientId = string.Create(CultureInfo.InvariantCulture, $"fleet-bench-baseline-{Environment.ProcessId}"),
            Username = username,
            Password = password,
            ProtocolVersion = MqttProtocolVersion.V500,
            CleanStart = true,
        });
        var subscriber = new BaselineSubscriber(client);
        try
        {
            await client.ConnectAsync(ct);
            await client.SubscribeAsync($"{topicPrefix}/+/telemetry", MqttQualityOfService.AtLeastOnce, ct);
            subscriber._loop = Task.Run(() => subscriber.ReadAsync(subscriber._stop.Token), CancellationToken.None);
            return subscriber;
        }
        catch
        {
            await subscriber.DisposeAsync();
            throw;
        }
    }

    /// <summary>From now on, payloads with a ts in [fromMs, toMs) give latency samples into <paramref name="latency"/>.</summary>
    public void Measure(LatencyHistogram latency, long fromMs, long toMs)
    {
        lock (_stop)
        {
            _fromMs = fromMs;
            _toMs = toMs;
            _latency = latency;
        }
    }

    public void StopMeasuring()
    {
        lock (_stop)
        {
            _latency = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _client.DisconnectAsync(timeout.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or MqttConnectionLostException or ObjectDisposedException or IOException or InvalidOperationException)
        {
            // Closing anyway.
        }

        await _client.DisposeAsync();
        _stop.Dispose();
    }

    private async Task ReadAsync(CancellationToken ct)
    {
        try
        {
            await foreach (var batch in _client.Batches.ReadAllAsync(ct))
            {
                using (batch)
                {
                    var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                    lock (_stop)
                    {
                        foreach (var message in batch)
                        {
                            var payload = message.Payload.Span;
                            if (_latency is not null && payload.StartsWith(TsPrefix)
                                && Utf8Parser.TryParse(payload[TsPrefix.Length..], out long ts, out _)
                                && ts >= _fromMs && ts < _toMs)
                            {
                                _latency.Record(now - ts);
                            }
                        }
                    }

                    Interlocked.Add(ref _received, batch.Count);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
    }
}
