using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using Fleet.Mqtt.Protocol;

namespace Fleet.Benchmarks;

/// <summary>
/// What the gateway's receive loop does per message: read the fixed header from the socket buffer, then decode the
/// PUBLISH into a view over it (topic, payload, packet id, properties), for MQTT 5 and 3.1.1.
/// </summary>
public class MqttDecodeBenchmarks
{
    private byte[] _v500 = [];
    private byte[] _v311 = [];
    private ReadOnlySequence<byte> _v500Sequence;
    private ReadOnlySequence<byte> _v311Sequence;

    [GlobalSetup]
    public void Setup()
    {
        var topic = "fleet/v1/T000000012345/telemetry"u8;
        var payload = Encoding.UTF8.GetBytes(Payloads.OneReport(Payloads.NowMs));
        _v500 = Encode(topic, payload, MqttProtocolVersion.V500);
        _v311 = Encode(topic, payload, MqttProtocolVersion.V311);
        _v500Sequence = new ReadOnlySequence<byte>(_v500);
        _v311Sequence = new ReadOnlySequence<byte>(_v311);
        Settle.Run(DecodePublishV500);
        Settle.Run(DecodePublishV311);
    }

    [Benchmark(Description = "PUBLISH decode, MQTT 5, QoS 1")]
    public int DecodePublishV500() => Decode(_v500Sequence, _v500, MqttProtocolVersion.V500);

    [Benchmark(Description = "PUBLISH decode, MQTT 3.1.1, QoS 1")]
    public int DecodePublishV311() => Decode(_v311Sequence, _v311, MqttProtocolVersion.V311);

    private static int Decode(in ReadOnlySequence<byte> buffer, byte[] packet, MqttProtocolVersion version)
    {
        if (!MqttPacketDecoder.TryReadFixedHeader(buffer, 1 << 20, out var header))
        {
            throw new InvalidOperationException("The packet is incomplete.");
        }

        var view = MqttPacketDecoder.DecodePublish(header, packet.AsSpan(header.HeaderLength, header.RemainingLength), version);
        return view.TopicUtf8.Length + view.Payload.Length + view.PacketId;
    }

    private static byte[] Encode(ReadOnlySpan<byte> topic, byte[] payload, MqttProtocolVersion version)
    {
        var writer = new ArrayBufferWriter<byte>();
        MqttPacketEncoder.WritePublish(writer, topic, payload, MqttQualityOfService.AtLeastOnce, retain: false, dup: false, packetId: 4242, version);
        return writer.WrittenSpan.ToArray();
    }
}
