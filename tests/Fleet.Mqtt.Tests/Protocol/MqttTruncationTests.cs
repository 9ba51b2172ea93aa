using System.Buffers;
using Fleet.Mqtt.Protocol;

namespace Fleet.Mqtt.Tests.Protocol;

/// <summary>Every prefix of every spec packet: the header reader waits for more, and the body decoder refuses a short body.</summary>
public sealed class MqttTruncationTests
{
    public static TheoryData<string> Packets => SpecWire.Names();

    [Theory]
    [MemberData(nameof(Packets))]
    public void Every_prefix_is_incomplete_to_the_header_reader(string name)
    {
        var (wire, _) = SpecWire.Get(name);
        for (var length = 0; length < wire.Length; length++)
        {
            var prefix = new ReadOnlySequence<byte>(wire, 0, length);
            if (MqttPacketDecoder.TryReadFixedHeader(prefix, 1 << 20, out var header))
            {
                // The header is complete, but the caller can see from it that the body is not.
                Assert.True(header.TotalLength > length, $"{name}: prefix of {length} looks complete");
                Assert.Equal(wire.Length, header.TotalLength);
            }
            else
            {
                Assert.True(length < 2 || (length < 5 && (wire[length - 1] & 0x80) != 0), $"{name}: header of prefix {length} should be readable");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Packets))]
    public void Every_short_body_is_a_protocol_error_to_the_decoder(string name)
    {
        var (wire, version) = SpecWire.Get(name);
        var header = Wire.ReadHeader(wire);
        for (var length = 0; length < header.RemainingLength; length++)
        {
            var body = wire.AsMemory(header.HeaderLength, length);
            Assert.Throws<MqttProtocolException>(() => MqttPacketDecoder.Decode(header, body.Span, version));
            if (header.Type == MqttPacketType.Publish)
            {
                Assert.Throws<MqttProtocolException>(() => MqttPacketDecoder.DecodePublish(header, body.Span, version));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Packets))]
    public void Every_cut_short_packet_with_a_matching_remaining_length_decodes_or_is_a_protocol_error(string name)
    {
        // A peer that sends a consistent but truncated packet: the fields themselves must be length-checked.
        var (wire, version) = SpecWire.Get(name);
        var full = Wire.ReadHeader(wire);
        for (var length = 0; length < full.RemainingLength; length++)
        {
            var header = full with { RemainingLength = length };
            var body = wire.AsMemory(full.HeaderLength, length);
            try
            {
                MqttPacketDecoder.Decode(header, body.Span, version);
            }
            catch (MqttProtocolException)
            {
                // expected for most prefixes
            }
        }
    }

    [Theory]
    [MemberData(nameof(Packets))]
    public void Header_split_across_one_byte_segments_reads_the_same(string name)
    {
        var (wire, _) = SpecWire.Get(name);
        var whole = Wire.ReadHeader(wire);
        Assert.True(MqttPacketDecoder.TryReadFixedHeader(Wire.Segmented(wire, 1), 1 << 20, out var split));
        Assert.Equal(whole, split);
    }

    [Fact]
    public void Header_with_a_multi_byte_remaining_length_split_across_segments_reads_the_same()
    {
        byte[] wire = [0x30, 0x80, 0x80, 0x01, 0xAA]; // remaining length 16384
        for (var segmentSize = 1; segmentSize <= wire.Length; segmentSize++)
        {
            Assert.True(MqttPacketDecoder.TryReadFixedHeader(Wire.Segmented(wire, segmentSize), int.MaxValue, out var header));
            Assert.Equal(16_384, header.RemainingLength);
            Assert.Equal(4, header.HeaderLength);
        }

        for (var length = 0; length < 4; length++)
        {
            Assert.False(MqttPacketDecoder.TryReadFixedHeader(Wire.Segmented(wire[..length], 1), int.MaxValue, out _));
        }
    }
}
