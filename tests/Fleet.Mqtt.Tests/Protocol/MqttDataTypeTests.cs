using System.Buffers;
using Fleet.Mqtt.Protocol;

namespace Fleet.Mqtt.Tests.Protocol;

/// <summary>The spec data types (5.0 §1.5) on their own, and the remaining-length boundaries of 5.0 Table 1-1 / 3.1.1 Table 2.4.</summary>
public sealed class MqttDataTypeTests
{
    public static TheoryData<int, byte[]> RemainingLengthBoundaries => new()
    {
        { 0, [0x00] },
        { 127, [0x7F] },
        { 128, [0x80, 0x01] },
        { 16_383, [0xFF, 0x7F] },
        { 16_384, [0x80, 0x80, 0x01] },
        { 2_097_151, [0xFF, 0xFF, 0x7F] },
        { 2_097_152, [0x80, 0x80, 0x80, 0x01] },
        { 268_435_455, [0xFF, 0xFF, 0xFF, 0x7F] },
    };

    [Theory]
    [MemberData(nameof(RemainingLengthBoundaries))]
    public void Variable_byte_integer_boundary_values_encode_to_spec_bytes(int value, byte[] expected)
    {
        var buffer = new byte[4];
        var writer = new MqttBufferWriter(buffer);
        writer.WriteVariableByteInteger((uint)value);
        Assert.Equal(expected, buffer[..writer.Written]);
        Assert.Equal(expected.Length, MqttBufferWriter.VariableByteIntegerSize((uint)value));
    }

    [Theory]
    [MemberData(nameof(RemainingLengthBoundaries))]
    public void Fixed_header_reads_boundary_remaining_lengths(int value, byte[] encoded)
    {
        byte[] wire = [0x30, .. encoded];
        Assert.True(MqttPacketDecoder.TryReadFixedHeader(new ReadOnlySequence<byte>(wire), int.MaxValue, out var header));
        Assert.Equal(MqttPacketType.Publish, header.Type);
        Assert.Equal(value, header.RemainingLength);
        Assert.Equal(1 + encoded.Length, header.HeaderLength);
        Assert.Equal(1 + encoded.Length + value, header.TotalLength);

        var reader = new MqttBufferReader(encoded, MqttProtocolVersion.V500);
        Assert.Equal((uint)value, reader.ReadVariableByteInteger());
        Assert.True(reader.IsAtEnd);
    }

    [Theory]
    [InlineData(127 - 3)]
    [InlineData(128 - 3)]
    [InlineData(16_383 - 3)]
    [InlineData(16_384 - 3)]
    [InlineData(2_097_151 - 3)]
    [InlineData(2_097_152 - 3)]
    public void Publish_encoder_writes_boundary_remaining_lengths(int payloadLength)
    {
        // 3.1.1 QoS 0 PUBLISH to topic "t": remaining length = 2 + 1 + payload.
        var remainingLength = payloadLength + 3;
        var writer = new ArrayBufferWriter<byte>();
        MqttPacketEncoder.WritePublish(writer, "t"u8, new byte[payloadLength], MqttQualityOfService.AtMostOnce, false, false, 0, MqttProtocolVersion.V311);
        var header = Wire.ReadHeader(writer.WrittenSpan.ToArray(), int.MaxValue);
        Assert.Equal(remainingLength, header.RemainingLength);
        Assert.Equal(writer.WrittenCount, header.TotalLength);
    }

    [Fact]
    public void Two_and_four_byte_integers_are_big_endian()
    {
        var reader = new MqttBufferReader([0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF, 0x7F], MqttProtocolVersion.V500);
        Assert.Equal(0x1234, reader.ReadTwoByteInteger());
        Assert.Equal(0xDEADBEEFu, reader.ReadFourByteInteger());
        Assert.Equal(0x7F, reader.ReadByte());
        Assert.True(reader.IsAtEnd);

        var buffer = new byte[6];
        var writer = new MqttBufferWriter(buffer);
        writer.WriteTwoByteInteger(0x1234);
        writer.WriteFourByteInteger(0xDEADBEEF);
        Assert.Equal(new byte[] { 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF }, buffer);
    }

    [Fact]
    public void Utf8_string_with_multibyte_characters_reads_and_writes()
    {
        // "é😀": U+00E9 is C3 A9, U+1F600 is F0 9F 98 80.
        byte[] wire = [0x00, 0x06, 0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80];
        var reader = new MqttBufferReader(wire, MqttProtocolVersion.V500);
        Assert.Equal("é😀", reader.ReadUtf8EncodedString());

        var buffer = new byte[8];
        var writer = new MqttBufferWriter(buffer);
        writer.WriteUtf8EncodedString("é😀");
        Assert.Equal(wire, buffer);
    }

    [Fact]
    public void Binary_data_and_string_pair_read_their_length_prefixed_values()
    {
        byte[] wire = [0x00, 0x02, 0xFF, 0x00, 0x00, 0x01, (byte)'k', 0x00, 0x02, (byte)'v', (byte)'1'];
        var reader = new MqttBufferReader(wire, MqttProtocolVersion.V500);
        Assert.Equal(new byte[] { 0xFF, 0x00 }, reader.ReadBinaryData().ToArray());
        Assert.Equal(new MqttUserProperty("k", "v1"), reader.ReadUtf8StringPair());
        Assert.True(reader.IsAtEnd);

        var buffer = new byte[wire.Length];
        var writer = new MqttBufferWriter(buffer);
        writer.WriteBinaryData([0xFF, 0x00]);
        writer.WriteUtf8StringPair("k", "v1");
        Assert.Equal(wire, buffer);
    }

    [Fact]
    public void Measuring_writer_counts_without_writing()
    {
        var writer = MqttBufferWriter.CreateMeasuring();
        writer.WriteUtf8EncodedString("abc");
        writer.WriteVariableByteInteger(16_384);
        writer.WriteBinaryData([1, 2]);
        Assert.Equal(5 + 3 + 4, writer.Written);
    }

    [Theory]
    [InlineData(new byte[] { 0x00, 0x02, 0xC3, 0x28 }, "MQTT-1.5.4-1")]          // C3 needs a continuation byte; 28 is not one
    [InlineData(new byte[] { 0x00, 0x03, 0xED, 0xA0, 0x80 }, "MQTT-1.5.4-1")]    // U+D800, an encoded surrogate
    [InlineData(new byte[] { 0x00, 0x02, 0xC0, 0x80 }, "MQTT-1.5.4-1")]          // overlong encoding of U+0000
    [InlineData(new byte[] { 0x00, 0x01, 0xFF }, "MQTT-1.5.4-1")]                // never valid in UTF-8
    [InlineData(new byte[] { 0x00, 0x03, 0x61, 0x00, 0x62 }, "MQTT-1.5.4-2")]    // "a\0b"
    [InlineData(new byte[] { 0x00, 0x05, 0x61, 0x62 }, "5.0 §1.5.4")]            // length 5, only 2 bytes follow
    [InlineData(new byte[] { 0x00 }, "5.0 §1.5.4")]                              // half a length
    public void Invalid_utf8_strings_are_protocol_errors(byte[] wire, string clause)
        => Wire.AssertProtocolError(clause, () => new MqttBufferReader(wire, MqttProtocolVersion.V500).ReadUtf8EncodedString());

    [Theory]
    [InlineData(new byte[] { 0x00, 0x02, 0xC3, 0x28 }, "MQTT-1.5.3-1")]
    [InlineData(new byte[] { 0x00, 0x03, 0xED, 0xA0, 0x80 }, "MQTT-1.5.3-1")]
    [InlineData(new byte[] { 0x00, 0x01, 0x00 }, "MQTT-1.5.3-2")]
    [InlineData(new byte[] { 0x00, 0x05, 0x61, 0x62 }, "3.1.1 §1.5.3")]
    public void Invalid_utf8_strings_cite_the_311_clauses_in_311(byte[] wire, string clause)
        => Wire.AssertProtocolError(clause, () => new MqttBufferReader(wire, MqttProtocolVersion.V311).ReadUtf8EncodedString());

    [Theory]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x01 }, "MQTT-1.5.5-1")] // five bytes
    [InlineData(new byte[] { 0x80, 0x00 }, "MQTT-1.5.5-1")]                   // 0 in two bytes: not minimal
    [InlineData(new byte[] { 0x80 }, "5.0 §1.5.5")]                           // continuation with nothing after it
    public void Malformed_variable_byte_integers_are_protocol_errors(byte[] wire, string clause)
        => Wire.AssertProtocolError(clause, () => new MqttBufferReader(wire, MqttProtocolVersion.V500).ReadVariableByteInteger());

    [Fact]
    public void Reads_past_the_end_are_protocol_errors_not_range_errors()
    {
        Wire.AssertProtocolError("5.0 §1.5.1", () => new MqttBufferReader([], MqttProtocolVersion.V500).ReadByte());
        Wire.AssertProtocolError("5.0 §1.5.2", () => new MqttBufferReader([0x01], MqttProtocolVersion.V500).ReadTwoByteInteger());
        Wire.AssertProtocolError("5.0 §1.5.3", () => new MqttBufferReader([0x01, 0x02, 0x03], MqttProtocolVersion.V500).ReadFourByteInteger());
        Wire.AssertProtocolError("5.0 §1.5.6", () => new MqttBufferReader([0xFF, 0xFF, 0x01], MqttProtocolVersion.V500).ReadBinaryData());
    }

    [Fact]
    public void Writer_rejects_strings_the_spec_forbids()
    {
        Assert.Throws<ArgumentException>(() => MqttBufferWriter.CreateMeasuring().WriteUtf8EncodedString("a\0b"));
        Assert.Throws<ArgumentException>(() => MqttBufferWriter.CreateMeasuring().WriteUtf8EncodedString("\uD800"));
        Assert.Throws<ArgumentException>(() => MqttBufferWriter.CreateMeasuring().WriteUtf8EncodedString(new string('x', 65_536)));
        Assert.Throws<ArgumentException>(() => MqttBufferWriter.CreateMeasuring().WriteUtf8EncodedString([0xED, 0xA0, 0x80]));
        Assert.Throws<ArgumentOutOfRangeException>(() => MqttBufferWriter.CreateMeasuring().WriteVariableByteInteger(268_435_456));
    }

    [Fact]
    public void Writer_accepts_the_longest_string()
    {
        var writer = MqttBufferWriter.CreateMeasuring();
        writer.WriteUtf8EncodedString(new string('x', 65_535));
        Assert.Equal(65_537, writer.Written);
    }
}
