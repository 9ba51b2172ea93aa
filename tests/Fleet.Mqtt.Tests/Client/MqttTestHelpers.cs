using System.Diagnostics;
using System.Text;
using Fleet.Mqtt.Client;
using Fleet.Mqtt.Protocol;
using Fleet.TestSupport;

namespace Fleet.Mqtt.Tests.Client;

/// <summary>A received message copied out of its batch, for assertions.</summary>
internal sealed record ReceivedMessage(string Topic, string Payload, MqttQualityOfService QoS, bool Dup, bool Retain);

internal static class MqttTestHelpers
{
    private static int _counter;

    public static string Unique(string prefix) => $"{prefix}-{Interlocked.Increment(ref _counter)}-{Guid.NewGuid():N}"[..(prefix.Length + 14)];

    public static MqttClientOptions Options(MosquittoServer server, string clientId, MqttProtocolVersion version = MqttProtocolVersion.V500) => new()
    {
        Host = MosquittoServer.Host,
        Port = server.Port,
        ClientId = clientId,
        ProtocolVersion = version,
        Username = MosquittoServer.AdminUser,
        Password = server.AdminPassword,
        KeepAlive = TimeSpan.FromSeconds(30),
        ConnectTimeout = TimeSpan.FromSeconds(5),
        ReconnectMinDelay = TimeSpan.FromMilliseconds(50),
        ReconnectMaxDelay = TimeSpan.FromSeconds(1),
    };

    public static async Task<MqttClient> ConnectAsync(MqttClientOptions options, CancellationToken cancellationToken)
    {
        var client = new MqttClient(options);
        try
        {
            await client.ConnectAsync(cancellationToken);
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>Reads batches until <paramref name="count"/> messages arrived (acknowledging each batch when asked).</summary>
    public static async Task<List<ReceivedMessage>> ReceiveAsync(MqttClient client, int count, TimeSpan timeout, CancellationToken cancellationToken, bool acknowledge = true)
    {
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        var messages = new List<ReceivedMessage>();
        try
        {
            while (messages.Count < count)
            {
                using var batch = await client.ReadBatchAsync(timeoutSource.Token);
                messages.AddRange(Copy(batch));
                if (acknowledge)
                {
                    await batch.AcknowledgeAsync(cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"Received {messages.Count} of {count} messages within {timeout}: {string.Join(", ", messages.Select(m => m.Payload))}");
        }

        return messages;
    }

    /// <summary>Whatever arrives within <paramref name="wait"/>.</summary>
    public static async Task<List<ReceivedMessage>> DrainAsync(MqttClient client, TimeSpan wait, CancellationToken cancellationToken, bool acknowledge = true)
    {
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(wait);
        var messages = new List<ReceivedMessage>();
        try
        {
            while (true)
            {
                using var batch = await client.ReadBatchAsync(timeoutSource.Token);
                messages.AddRange(Copy(batch));
                if (acknowledge)
                {
                    await batch.AcknowledgeAsync(cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return messages;
        }
    }

    public static List<ReceivedMessage> Copy(MqttReceivedBatch batch)
    {
        var list = new List<ReceivedMessage>(batch.Count);
        foreach (var message in batch)
        {
            list.Add(new ReceivedMessage(message.Topic, Encoding.UTF8.GetString(message.Payload.Span), message.QoS, message.Dup, message.Retain));
        }

        return list;
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; fails with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task EventuallyAsync(Func<bool> condition, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        while (!condition())
        {
            if (stopwatch.Elapsed > timeout)
            {
                Assert.Fail($"Timed out after {timeout} waiting for: {what}");
            }

            await Task.Delay(20, cancellationToken);
        }
    }
}
