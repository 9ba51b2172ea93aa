using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Fleet.Simulator.Suite;

namespace Fleet.Web.Tests.SignalR;

/// <summary>A server → client invocation (<c>type 1</c> without an id), with its size on the wire and when it came.</summary>
internal sealed record ServerInvocation(string Target, IReadOnlyList<JsonElement> Arguments, int Bytes, TimeSpan ReceivedAt);

/// <summary>The hub answered an invocation with an error (a <c>HubException</c>'s message, or SignalR's generic one).</summary>
internal sealed class HubInvocationException(string message) : Exception(message);

/// <summary>Negotiation was refused: the status code says why (401 without a session).</summary>
internal sealed class SignalRNegotiateException(HttpStatusCode status, string body)
    : Exception(string.Create(CultureInfo.InvariantCulture, $"negotiate answered {(int)status}: {body}"))
{
    public HttpStatusCode Status { get; } = status;
}

/// <summary>
/// Test-only client for the SignalR JSON hub protocol over a WebSocket (Microsoft.AspNetCore.SignalR.Client cannot be
/// restored here). Negotiates (v1, with the session cookie), connects with the connection token, handshakes, then
/// runs one receive loop: records are separated by 0x1E and may span WebSocket messages, or share one. Completions
/// resolve <see cref="InvokeAsync"/>; server invocations go to <see cref="Invocations"/>; pings are sent so the
/// server's client timeout never fires; a close message ends the channel with its error.
/// </summary>
internal sealed class SignalRJsonClient : IAsyncDisposable
{
    private static readonly TimeSpan PingInterval = TimeSpan.FromSeconds(10);

    private readonly ClientWebSocket _socket;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<JsonElement>> _pending = new(StringComparer.Ordinal);
    private readonly Channel<ServerInvocation> _invocations = Channel.CreateUnbounded<ServerInvocation>();
    private readonly TaskCompletionSource _handshake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private Task _receiveLoop = Task.CompletedTask;
    private Task _pingLoop = Task.CompletedTask;
    private int _nextInvocationId;

    private SignalRJsonClient(ClientWebSocket socket) => _socket = socket;

    public ChannelReader<ServerInvocation> Invocations => _invocations.Reader;

    /// <summary>The error of the server's close message, when it sent one with an error.</summary>
    public string? CloseError { get; private set; }

    /// <summary>Time since the client was created, on the clock <see cref="ServerInvocation.ReceivedAt"/> uses.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary><c>POST {hub}/negotiate?negotiateVersion=1</c>; returns the connection token.</summary>
    public static async Task<string> NegotiateAsync(Uri baseAddress, string hubPath, string? cookie, CancellationToken ct)
    {
        using var http = new HttpClient(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = baseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{hubPath}/negotiate?negotiateVersion=1");
        if (cookie is not null)
        {
            request.Headers.Add("Cookie", cookie);
        }

        using var response = await http.SendAsync(request, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new SignalRNegotiateException(response.StatusCode, body);
        }

        using var json = JsonDocument.Parse(body);
        return json.RootElement.GetProperty("connectionToken").GetString()
            ?? throw new InvalidOperationException("negotiate returned no connectionToken");
    }

    /// <summary>The WebSocket URL of the hub for a connection token (null: without one, as skipNegotiation does).</summary>
    public static Uri SocketUri(Uri baseAddress, string hubPath, string? token)
    {
        var builder = new UriBuilder(new Uri(baseAddress, hubPath)) { Scheme = baseAddress.Scheme == "https" ? "wss" : "ws" };
        if (token is not null)
        {
            builder.Query = "id=" + Uri.EscapeDataString(token);
        }

        return builder.Uri;
    }

    public static async Task<SignalRJsonClient> ConnectAsync(Uri baseAddress, string hubPath, string? cookie, CancellationToken ct)
    {
        var token = await NegotiateAsync(baseAddress, hubPath, cookie, ct);
        var socket = new ClientWebSocket();
        if (cookie is not null)
        {
            socket.Options.SetRequestHeader("Cookie", cookie);
        }

        var client = new SignalRJsonClient(socket);
        try
        {
            await socket.ConnectAsync(SocketUri(baseAddress, hubPath, token), ct);
            client._receiveLoop = Task.Run(() => client.ReceiveLoopAsync(client._stop.Token), CancellationToken.None);
            await client.SendRecordAsync(Encoding.UTF8.GetBytes("""{"protocol":"json","version":1}"""), ct);
            await client._handshake.Task.WaitAsync(TimeSpan.FromSeconds(10), ct);
            client._pingLoop = Task.Run(() => client.PingLoopAsync(client._stop.Token), CancellationToken.None);
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>Invokes a hub method and waits for its completion: the result, or <see cref="HubInvocationException"/>.</summary>
    public async Task<JsonElement> InvokeAsync(string target, object?[] arguments, CancellationToken ct)
    {
        var id = Interlocked.Increment(ref _nextInvocationId).ToString(CultureInfo.InvariantCulture);
        var completion = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = completion;
        var message = JsonSerializer.SerializeToUtf8Bytes(new { type = 1, invocationId = id, target, arguments });
        await SendRecordAsync(message, ct);
        try
        {
            return await completion.Task.WaitAsync(TimeSpan.FromSeconds(15), ct);
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>The next server invocation of <paramref name="target"/> within <paramref name="timeout"/>; null if none came.</summary>
    public async Task<ServerInvocation?> NextAsync(string target, TimeSpan timeout, CancellationToken ct)
    {
        using var window = CancellationTokenSource.CreateLinkedTokenSource(ct);
        window.CancelAfter(timeout);
        try
        {
            while (true)
            {
                var invocation = await _invocations.Reader.ReadAsync(window.Token);
                if (invocation.Target == target)
                {
                    return invocation;
                }
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await SignalRFraming.CloseAsync(_socket, _receiveLoop, _pingLoop);
        _socket.Dispose();
        _sendLock.Dispose();
        _stop.Dispose();
    }

    private async Task SendRecordAsync(ReadOnlyMemory<byte> json, CancellationToken ct)
    {
        var record = SignalRFraming.Record(json.Span);
        await _sendLock.WaitAsync(ct);
        try
        {
            await _socket.SendAsync(record, WebSocketMessageType.Text, endOfMessage: true, ct);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private async Task PingLoopAsync(CancellationToken ct)
    {
        var ping = Encoding.UTF8.GetBytes("""{"type":6}""");
        try
        {
            while (true)
            {
                await Task.Delay(PingInterval, ct);
                await SendRecordAsync(ping, ct);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            // Closed.
        }
    }

    private async Task ReceiveLoopAsync(CancellationToken ct)
    {
        var pending = new ArrayBufferWriter<byte>(64 * 1024);
        var chunk = new byte[16 * 1024];
        Exception? failure = null;
        try
        {
            while (true)
            {
                var received = await _socket.ReceiveAsync(chunk, ct);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                pending.Write(chunk.AsSpan(0, received.Count));
                var consumed = DispatchRecords(pending.WrittenSpan);
                if (consumed > 0)
                {
                    // Keep the tail of a record that continues in the next WebSocket message.
                    var rest = pending.WrittenSpan[consumed..].ToArray();
                    pending.ResetWrittenCount();
                    pending.Write(rest);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            failure = ct.IsCancellationRequested ? null : ex;
        }
        finally
        {
            var closed = new HubInvocationException(CloseError ?? failure?.Message ?? "The connection closed.");
            _handshake.TrySetException(closed);
            foreach (var completion in _pending.Values)
            {
                completion.TrySetException(closed);
            }

            _invocations.Writer.TryComplete(CloseError is null ? null : closed);
        }
    }

    /// <summary>Handles every complete record in <paramref name="buffer"/>; returns the bytes consumed.</summary>
    private int DispatchRecords(ReadOnlySpan<byte> buffer)
    {
        var consumed = 0;
        while (true)
        {
            var end = buffer[consumed..].IndexOf(SignalRFraming.RecordSeparator);
            if (end < 0)
            {
                return consumed;
            }

            Dispatch(buffer.Slice(consumed, end));
            consumed += end + 1;
        }
    }

    private void Dispatch(ReadOnlySpan<byte> record)
    {
        using var document = JsonDocument.Parse(record.ToArray());
        var root = document.RootElement;
        if (!_handshake.Task.IsCompleted)
        {
            if (root.TryGetProperty("error", out var handshakeError))
            {
                _handshake.TrySetException(new HubInvocationException($"handshake refused: {handshakeError.GetString()}"));
            }
            else
            {
                _handshake.TrySetResult();
            }

            return;
        }

        switch (root.GetProperty("type").GetInt32())
        {
            case 1 when !root.TryGetProperty("invocationId", out _):
                var arguments = root.GetProperty("arguments").EnumerateArray().Select(a => a.Clone()).ToList();
                _invocations.Writer.TryWrite(new ServerInvocation(root.GetProperty("target").GetString()!, arguments, record.Length + 1, _clock.Elapsed));
                break;
            case 3:
                if (_pending.TryGetValue(root.GetProperty("invocationId").GetString()!, out var completion))
                {
                    if (root.TryGetProperty("error", out var error))
                    {
                        completion.TrySetException(new HubInvocationException(error.GetString() ?? ""));
                    }
                    else
                    {
                        completion.TrySetResult(root.TryGetProperty("result", out var result) ? result.Clone() : default);
                    }
                }

                break;
            case 7:
                CloseError = root.TryGetProperty("error", out var closeError) ? closeError.GetString() : null;
                break;
            default:
                // 6 (ping) needs no answer; stream messages are not used by this hub.
                break;
        }
    }
}

internal static class SignalRJsonClientExtensions
{
    /// <summary>Logs in with a cookie-less client and returns the session cookie as a <c>Cookie</c> header value.</summary>
    public static async Task<string> LoginCookieAsync(Uri baseAddress, string username, string password, CancellationToken ct)
    {
        using var http = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = baseAddress };
        var login = await http.LoginAsync(username, password, ct);
        Assert.Equal(HttpStatusCode.OK, login.Status);
        // A large session cookie comes in chunks (fleet_session, fleet_sessionC1, …): send them all back.
        var cookies = login.Message.Headers.GetValues("Set-Cookie")
            .Where(c => c.StartsWith(Auth.AuthApi.CookieName, StringComparison.Ordinal))
            .Select(c => c.Split(';')[0])
            .ToList();
        Assert.NotEmpty(cookies);
        return string.Join("; ", cookies);
    }
}
