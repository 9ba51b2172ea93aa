using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.Text;
using Fleet.Mqtt.Client;
using Fleet.Mqtt.Protocol;
using Fleet.TestSupport;
using static Fleet.Mqtt.Tests.Client.MqttTestHelpers;

namespace Fleet.Mqtt.Tests.Client;

public sealed class MqttThroughputTests(MosquittoFixture fixture)
{
    private const int Count = 100_000;
    private const int SequenceDigits = 8;
    private readonly MosquittoServer _server = fixture.Server;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact(Timeout = 180_000)]
    public async Task Hundred_thousand_qos1_messages_pass_through_mosquitto_in_batches_without_loss_or_duplicates()
    {
        var topic = Utf8($"fleet/v1/{Unique("load")}/telemetry");
        await using var subscriber = await ConnectAsync(Options(_server, Unique("gw")) with { ManualAcknowledge = true }, Token);
        await subscriber.SubscribeAsync(Encoding.UTF8.GetString(topic), MqttQualityOfService.AtLeastOnce, Token);
        await using var publisher = await ConnectAsync(Options(_server, Unique("sim")), Token);

        var seen = new bool[Count];
        var distinct = 0;
        var duplicates = 0;
        var outOfOrder = 0;
        var batches = 0;
        var consumer = Task.Run(
            async () =>
            {
                var last = -1;
                while (distinct < Count)
                {
                    using var batch = await subscriber.ReadBatchAsync(Token);
                    batches++;
                    foreach (var message in batch)
                    {
                        var sequence = ParseSequence(message.Payload.Span);
                        if (seen[sequence])
                        {
                            duplicates++;
                            continue;
                        }

                        seen[sequence] = true;
                        distinct++;
                        outOfOrder += sequence < last ? 1 : 0;
                        last = sequence;
                    }

                    // Gateway style: acknowledge a batch once it is "stored".
                    await batch.AcknowledgeAsync(Token);
                }
            },
            Token);

        // A 137-byte telemetry report, the sequence number in its first bytes.
        var payload = Utf8("00000000,\"ts\":1767225600000,\"lat\":40.842100,\"lon\":111.749800,\"spd\":42.5,\"hdg\":270,\"acc\":true,\"odo\":123456.7,\"fuel\":63,\"sats\":11,\"hdop\":0.9}");
        var stopwatch = Stopwatch.StartNew();
        var window = new Queue<ValueTask<MqttPublishResult>>();
        for (var i = 0; i < Count; i++)
        {
            if (window.Count >= 20_000)
            {
                Assert.True((await window.Dequeue()).IsSuccess);
            }

            Assert.True(Utf8Formatter.TryFormat(i, payload, out _, new StandardFormat('D', SequenceDigits)));
            // Each ValueTask is queued and awaited exactly once, which is all CA2012 guards against.
#pragma warning disable CA2012
            window.Enqueue(publisher.PublishAsync(topic, payload, MqttQualityOfService.AtLeastOnce, cancellationToken: Token));
#pragma warning restore CA2012
        }

        while (window.Count > 0)
        {
            Assert.True((await window.Dequeue()).IsSuccess);
        }

        var published = stopwatch.Elapsed;
        await consumer.WaitAsync(TimeSpan.FromSeconds(120), Token);
        var received = stopwatch.Elapsed;

        // Anything extra would be a duplicate.
        var late = await DrainAsync(subscriber, TimeSpan.FromMilliseconds(500), Token);

        var report = $"{Count:N0} QoS 1 messages of {payload.Length} B: all PUBACKs after {published.TotalSeconds:F2} s ({Count / published.TotalSeconds:N0} msg/s), "
            + $"all received after {received.TotalSeconds:F2} s ({Count / received.TotalSeconds:N0} msg/s end to end) in {batches:N0} batches; "
            + $"peak in flight {publisher.PeakInflightCount:N0}, out of order {outOfOrder}";
        TestContext.Current.TestOutputHelper?.WriteLine(report);
        TestContext.Current.SendDiagnosticMessage(report);

        Assert.Equal(Count, distinct);
        Assert.Equal(0, duplicates);
        Assert.Empty(late);
        Assert.Equal(1, publisher.ConnectionGeneration);
        Assert.Equal(1, subscriber.ConnectionGeneration);
    }

    private static int ParseSequence(ReadOnlySpan<byte> payload)
    {
        Assert.True(Utf8Parser.TryParse(payload[..SequenceDigits], out int sequence, out var consumed) && consumed == SequenceDigits);
        return sequence;
    }
}
