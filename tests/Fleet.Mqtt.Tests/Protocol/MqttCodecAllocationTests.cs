using System.Buffers;
using Fleet.Mqtt.Protocol;

namespace Fleet.Mqtt.Tests.Protocol;

/// <summary>The hot paths allocate nothing once warmed up.</summary>
public sealed class MqttCodecAllocationTests
{
    private const int Rounds = 1_000;

    [Fact]
    public void DecodePublish_of_a_v5_publish_with_properties_allocates_nothing()
    {
        var wire = SpecWire.V500.PublishQoS1WithProperties;
        var sequence = new ReadOnlySequence<byte>(wire);
        var checksum = DecodeRounds(wire, sequence, 10); // warm-up (JIT, statics)

        var before = GC.GetAllocatedBytesForCurrentThread();
        checksum += DecodeRounds(wire, sequence, Rounds);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal((Rounds + 10) * (3 + 2 + 5), checksum); // topic "a/b", payload "hi", alias 5 each round
    }

    private static long DecodeRounds(byte[] wire, ReadOnlySequence<byte> sequence, int rounds)
    {
        long checksum = 0;
        for (var i = 0; i < rounds; i++)
        {
            MqttPacketDecoder.TryReadFixedHeader(sequence, 1 << 16, out var header);
            var view = MqttPacketDecoder.DecodePublish(header, wire.AsSpan(header.HeaderLength, header.RemainingLength), MqttProtocolVersion.V500);
            checksum += view.TopicUtf8.Length + view.Payload.Length + view.TopicAlias;
        }

        return checksum;
    }

    [Fact]
    public void WritePubAck_into_a_presized_buffer_allocates_nothing()
    {
        var writer = new ArrayBufferWriter<byte>(4 * (Rounds + 10));
        for (var i = 1; i <= 10; i++)
        {
            MqttPacketEncoder.WritePubAck(writer, (ushort)i);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 1; i <= Rounds; i++)
        {
            MqttPacketEncoder.WritePubAck(writer, (ushort)i);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(4 * (Rounds + 10), writer.WrittenCount);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public void WritePublish_into_a_presized_buffer_allocates_nothing(MqttProtocolVersion version)
    {
        var payload = new byte[256];
        var writer = new ArrayBufferWriter<byte>(300 * (Rounds + 10));
        for (var i = 1; i <= 10; i++)
        {
            MqttPacketEncoder.WritePublish(writer, "fleet/v1/dev-1/command"u8, payload, MqttQualityOfService.AtLeastOnce, false, false, (ushort)i, version);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 1; i <= Rounds; i++)
        {
            MqttPacketEncoder.WritePublish(writer, "fleet/v1/dev-1/command"u8, payload, MqttQualityOfService.AtLeastOnce, false, false, (ushort)i, version);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);

        // And what was written decodes back.
        var wire = writer.WrittenSpan[..writer.WrittenCount].ToArray();
        var header = Wire.ReadHeader(wire);
        var view = MqttPacketDecoder.DecodePublish(header, wire.AsSpan(header.HeaderLength, header.RemainingLength), version);
        Assert.Equal("fleet/v1/dev-1/command"u8.ToArray(), view.TopicUtf8.ToArray());
        Assert.Equal(256, view.Payload.Length);
        Assert.Equal(1, view.PacketId);
    }
}
