using System.Buffers;
using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Fleet.Simulator.Suite;

/// <summary>
/// The benchmark's map: one SignalR JSON-protocol client on <c>/hubs/live</c>, signed in and subscribed to every
/// vehicle. For each row of each <c>frame</c> it records the latency from the row's report <c>ts</c> (epoch ms) to
/// the frame's arrival, when a measurement is open and the ts falls in its window; it also counts frames and bytes.
/// </summary>
public sealed class HubFeed : IAsyncDisposable
{
    private const string HubPath = "/hubs/live";

    private readonly ClientWebSocket _socket = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<JsonElement> _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _receive = Task.CompletedTask;
    private Task _ping = Task.CompletedTask;
    private HubMeasurement? _measurement;
    private int _idIndex;
    private int _tsIndex = 7;

    private HubFeed()
    {
    }

    /// <summary>Snapshot rows received on subscribe.</summary>
    public int SnapshotRows { get; private set; }

    /// <summary>Why the connection ended, if it did.</summary>
    public string? Failure { get; private set; }

    /// <summary>Signs in, connects, subscribes to <c>{kind: "all"}</c> and waits for the snapshot.</summary>
    public static async Task<HubFeed> ConnectAsync(Uri baseAddress, string username, string password, CancellationToken ct)
    {
        var cookies = new CookieContainer();
        using var http = new HttpClient(new HttpClientHandler { CookieContainer = cookies, UseCookies = true }) { BaseAddress = baseAddress };
        using (var login = await http.PostAsJsonAsync("/api/auth/login", new LoginBody(username, password), ct))
        {
            if (!login.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"hub login as {username} answered {(int)login.StatusCode}");
            }
        }

        string token;
        using (var negotiate = await http.PostAsync(new Uri($"{HubPath}/negotiate?negotiateVersion=1", UriKind.Relative), null, ct))
        {
            negotiate.EnsureSuccessStatusCode();
            using var body = JsonDocument.Parse(await negotiate.Content.ReadAsStringAsync(ct));
            token = body.RootElement.GetProperty("connectionToken").GetString() ?? throw new InvalidOperationException("negotiate gave no token");
        }

        var feed = new HubFeed();
        try
        {
            feed._socket.Options.SetRequestHeader("Cookie", cookies.GetCookieHeader(baseAddress));
            var socketUri = new UriBuilder(new Uri(baseAddress, HubPath)) { Scheme = baseAddress.Scheme == "https" ? "wss" : "ws", Query = "id=" + Uri.EscapeDataString(token) }.Uri;
            await feed._socket.ConnectAsync(socketUri, ct);
            await feed.SendAsync("""{"protocol":"json","version":1}"""u8.ToArray(), ct);
            feed._receive = Task.Run(() => feed.ReceiveLoopAsync(feed._stop.Token), CancellationToken.None);
            await feed.SendAsync("""{"type":1,"invocationId":"1","target":"Subscribe","arguments":[{"kind":"all"}]}"""u8.ToArray(), ct);
            var snapshot = await feed._subscribed.Task.WaitAsync(TimeSpan.FromSeconds(60), ct);
            var fields = snapshot.GetProperty("fields").EnumerateArray().Select(f => f.GetString()).ToList();
            feed._idIndex = fields.IndexOf("id");
            feed._tsIndex = fields.IndexOf("ts");
            if (feed._idIndex < 0 || feed._tsIndex < 0)
            {
                throw new InvalidOperationException("the live snapshot has no id or ts field");
            }

            feed.SnapshotRows = snapshot.GetProperty("rows").GetArrayLength();
            feed._ping = Task.Run(() => feed.PingLoopAsync(feed._stop.Token), CancellationToken.None);
            return feed;
        }
        catch
        {
            await feed.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts counting: rows whose ts is in [fromMs, toMs) give latency samples from now on.</summary>
    public HubMeasurement Begin(long fromMs, long toMs)
    {
        var measurement = new HubMeasurement(fromMs, toMs, Environment.TickCount64);
        Volatile.Write(ref _measurement, measurement);
        return measurement;
    }

    /// <summary>Stops counting; the measurement's figures are final once this returns.</summary>
    public void End(HubMeasurement measurement)
    {
        ArgumentNullException.ThrowIfNull(measurement);
        // The receive loop holds the measurement's lock while it records: taking it here waits out a frame in progress.
        lock (measurement)
        {
            Interlocked.CompareExchange(ref _measurement, null, measurement);
            measurement.EndedAt = Environment.TickCount64;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await SignalRFraming.CloseAsync(_socket, _receive, _ping);
        _socket.Dispose();
        _stop.Dispose();
    }

    private async Task SendAsync(byte[] json, CancellationToken ct)
    {
        await _socket.SendAsync(SignalRFraming.Record(json), WebSocketMessageType.Text, endOfMessage: true, ct);
    }

    private async Task PingLoopAsync(CancellationToken ct)
    {
        try
        {
            while (true)
            {
                await Task.Delay(TimeSpan.FromSeconds(10), ct);
                await SendAsync("""{"type":6}"""u8.ToArray(), ct);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            // Closed.
        }
    }

    private async Task ReceiveLoopAsync(CancellationToken ct)
    {
        var pending = new ArrayBufferWriter<byte>(256 * 1024);
        var chunk = new byte[64 * 1024];
        var handshakeDone = false;
        try
        {
            while (true)
            {
                var received = await _socket.ReceiveAsync(chunk, ct);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    Failure ??= "the hub closed the connection";
                    break;
                }

                pending.Write(chunk.AsSpan(0, received.Count));
                var buffer = pending.WrittenSpan;
                var consumed = 0;
                int end;
                while ((end = buffer[consumed..].IndexOf(SignalRFraming.RecordSeparator)) >= 0)
                {
                    var record = buffer.Slice(consumed, end);
                    if (!handshakeDone)
                    {
                        handshakeDone = true;
                    }
                    else
                    {
                        Dispatch(record);
                    }

                    consumed += end + 1;
                }

                if (consumed > 0)
                {
                    var rest = buffer[consumed..].ToArray();
                    pending.ResetWrittenCount();
                    pending.Write(rest);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException or JsonException)
        {
            if (!ct.IsCancellationRequested)
            {
                Failure ??= ex.Message;
            }
        }
        finally
        {
            _subscribed.TrySetException(new InvalidOperationException(Failure ?? "the hub connection closed"));
        }
    }

    private void Dispatch(ReadOnlySpan<byte> record)
    {
        var arrivedMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        // Frames (four a second, each a row per changed vehicle) are read as a stream: building a document for each cost
        // the generator's process a tenth of its CPU at 40,000 reports/s. Anything else is rare and read whole.
        var reader = new Utf8JsonReader(record);
        if (!AtFrameArguments(ref reader))
        {
            DispatchOther(record);
            return;
        }

        var measurement = Volatile.Read(ref _measurement);
        if (measurement is null)
        {
            return;
        }

        lock (measurement)
        {
            if (measurement.EndedAt is not null)
            {
                return;
            }

            measurement.Frames++;
            measurement.Bytes += record.Length + 1;
            ReadFrameRows(ref reader, measurement, arrivedMs);
        }
    }

    /// <summary>
    /// True when the record is an invocation of <c>frame</c>, with the reader on the start of its arguments array. The
    /// hub protocol writes type and target before arguments; a record in another order is read whole instead.
    /// </summary>
    private static bool AtFrameArguments(ref Utf8JsonReader reader)
    {
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        bool invocation = false, frame = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                invocation = reader.TokenType == JsonTokenType.Number && reader.GetInt32() == 1;
            }
            else if (reader.ValueTextEquals("target"u8))
            {
                reader.Read();
                frame = reader.TokenType == JsonTokenType.String && reader.ValueTextEquals("frame"u8);
            }
            else if (reader.ValueTextEquals("arguments"u8))
            {
                return invocation && frame && reader.Read() && reader.TokenType == JsonTokenType.StartArray;
            }
            else
            {
                reader.Skip();
            }
        }

        return false;
    }

    /// <summary>From the start of the arguments array: the first argument's <c>rows</c>, a latency sample per first sighting.</summary>
    private void ReadFrameRows(ref Utf8JsonReader reader, HubMeasurement measurement, long arrivedMs)
    {
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (!reader.ValueTextEquals("rows"u8))
            {
                reader.Skip();
                continue;
            }

            reader.Read();
            while (reader.Read() && reader.TokenType == JsonTokenType.StartArray)
            {
                measurement.Rows++;
                long? id = null, ts = null;
                for (var column = 0; reader.Read() && reader.TokenType != JsonTokenType.EndArray; column++)
                {
                    if (reader.TokenType == JsonTokenType.Number && (column == _idIndex || column == _tsIndex))
                    {
                        if (column == _idIndex)
                        {
                            id = reader.GetInt64();
                        }
                        else
                        {
                            ts = reader.GetInt64();
                        }
                    }
                    else
                    {
                        reader.Skip();
                    }
                }

                if (id is { } vehicle && ts is { } at && at >= measurement.FromMs && at < measurement.ToMs && measurement.FirstSighting(vehicle, at))
                {
                    measurement.Latency.Record(arrivedMs - at);
                }
            }

            return;
        }
    }

    private void DispatchOther(ReadOnlySpan<byte> record)
    {
        var reader = new Utf8JsonReader(record);
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        var type = root.GetProperty("type").GetInt32();
        if (type == 3)
        {
            if (root.TryGetProperty("error", out var error))
            {
                _subscribed.TrySetException(new InvalidOperationException($"Subscribe failed: {error.GetString()}"));
            }
            else
            {
                _subscribed.TrySetResult(root.GetProperty("result").Clone());
            }
        }
        else if (type == 7)
        {
            Failure = root.TryGetProperty("error", out var closeError) ? closeError.GetString() : "the hub closed the connection";
        }
    }

    private sealed record LoginBody(string Username, string Password);
}

/// <summary>What the hub client saw during one measurement window.</summary>
public sealed class HubMeasurement(long fromMs, long toMs, long startedAt)
{
    public long FromMs { get; } = fromMs;
    public long ToMs { get; } = toMs;
    public long StartedAt { get; } = startedAt;
    public long? EndedAt { get; internal set; }
    public long Frames { get; internal set; }
    public long Bytes { get; internal set; }
    public long Rows { get; internal set; }
    public LatencyHistogram Latency { get; } = new();

    // A row is sent again, with the same fix, when only the vehicle's state changes (it goes offline when a run ends,
    // parks on a timer): only a fix's first arrival is its latency.
    private readonly Dictionary<long, long> _newestTs = [];

    internal bool FirstSighting(long vehicleId, long ts)
    {
        if (_newestTs.TryGetValue(vehicleId, out var seen) && ts <= seen)
        {
            return false;
        }

        _newestTs[vehicleId] = ts;
        return true;
    }

    /// <summary>Frames and bytes so far, read consistently with the receive loop.</summary>
    public (long Frames, long Bytes) Counters()
    {
        lock (this)
        {
            return (Frames, Bytes);
        }
    }

    public double Seconds => ((EndedAt ?? Environment.TickCount64) - StartedAt) / 1000.0;
}
