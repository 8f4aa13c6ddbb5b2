package io.github.keylimeattestor.tpm.command;

import io.github.keylimeattestor.tpm.CommandCode;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.PcrSelection;
import io.github.keylimeattestor.tpm.structure.TpmReader;
import io.github.keylimeattestor.tpm.structure.TpmWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** TPM2_GetCapability for TPM_CAP_HANDLES, TPM_CAP_PCRS and TPM_CAP_TPM_PROPERTIES. */
public record GetCapability(int capability, int property, int propertyCount)
    implements TpmCommand<GetCapability.Data> {
  public static final int CAP_HANDLES = 0x00000001;
  public static final int CAP_PCRS = 0x00000005;
  public static final int CAP_TPM_PROPERTIES = 0x00000006;

  public static final int PT_FIXED = 0x100;
  public static final int PT_MANUFACTURER = PT_FIXED + 5;
  public static final int PT_VENDOR_STRING_1 = PT_FIXED + 6;
  public static final int PT_FIRMWARE_VERSION_1 = PT_FIXED + 11;
  public static final int PT_FIRMWARE_VERSION_2 = PT_FIXED + 12;
  public static final int PT_HR_TRANSIENT_MIN = PT_FIXED + 14;
  public static final int PT_NV_BUFFER_MAX = PT_FIXED + 44;
  public static final int PT_MAX_COMMAND_SIZE = PT_FIXED + 30;
  public static final int PT_MAX_RESPONSE_SIZE = PT_FIXED + 31;
  private static final int MAX_ITEMS = 1024;

  /**
   * @param handles for CAP_HANDLES
   * @param properties for CAP_TPM_PROPERTIES, in TPM order
   * @param pcrs for CAP_PCRS: the allocated banks
   */
  public record Data(boolean moreData, int capability, List<Integer> handles,
      Map<Integer, Integer> properties, PcrSelection pcrs) {}

  /** All handles of one type, e.g. {@code Handles.HR_TRANSIENT}. */
  public static GetCapability handles(int firstHandle) {
    return new GetCapability(CAP_HANDLES, firstHandle, 256);
  }

  public static GetCapability properties(int first, int count) {
    return new GetCapability(CAP_TPM_PROPERTIES, first, count);
  }

  public static GetCapability pcrs() {
    return new GetCapability(CAP_PCRS, 0, 1);
  }

  @Override
  public int commandCode() {
    return CommandCode.GET_CAPABILITY;
  }

  @Override
  public void parameters(TpmWriter w) {
    w.u32(capability).u32(property).u32(propertyCount);
  }

  @Override
  public Data response(int[] h, TpmReader p) throws TpmFormatException {
    int more = p.u8("moreData");
    int cap = p.u32("capability");
    List<Integer> handles = List.of();
    Map<Integer, Integer> props = Map.of();
    PcrSelection pcrs = null;
    switch (cap) {
      case CAP_HANDLES: {
        int n = count(p);
        handles = new ArrayList<>();
        for (int i = 0; i < n; i++) {
          handles.add(p.u32("handle"));
        }
        break;
      }
      case CAP_TPM_PROPERTIES: {
        int n = count(p);
        props = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
          props.put(p.u32("property"), p.u32("value"));
        }
        break;
      }
      case CAP_PCRS:
        pcrs = PcrSelection.parse(p);
        break;
      default:
        throw new TpmFormatException(String.format("unsupported capability 0x%08x", cap));
    }
    return new Data(more != 0, cap, List.copyOf(handles), Map.copyOf(props), pcrs);
  }

  private static int count(TpmReader p) throws TpmFormatException {
    int n = p.u32("count");
    if (n < 0 || n > MAX_ITEMS || n > p.remaining() / 4) {
      throw new TpmFormatException("capability count " + Integer.toUnsignedString(n) + " out of range");
    }
    return n;
  }
}
