using System.Net.WebSockets;

namespace Fleet.Simulator.Suite;

/// <summary>
/// The SignalR JSON protocol's framing over a client WebSocket, shared by the bench's hub client and the tests' hub
/// client: each message is a JSON record ended by 0x1E, and a close is said once, briefly, before the socket goes.
/// </summary>
public static class SignalRFraming
{
    public const byte RecordSeparator = 0x1e;

    /// <summary>The JSON with its record separator, as one WebSocket text message carries it.</summary>
    public static byte[] Record(ReadOnlySpan<byte> json)
    {
        var record = new byte[json.Length + 1];
        json.CopyTo(record);
        record[^1] = RecordSeparator;
        return record;
    }

    /// <summary>Says goodbye if the socket is still open (at most 2 s), aborts it, and waits out the client's loops.</summary>
    public static async Task CloseAsync(ClientWebSocket socket, params Task[] loops)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (socket.State == WebSocketState.Open)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
                // The server went first; nothing to close.
            }
        }

        socket.Abort();
        await Task.WhenAll(loops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
