// ELF inspection of module files: is it a shared object, does it export the
// uni entry point, what platform tag does its .uni_platform section carry,
// which functions does its .uni_exports section describe.
// Every offset read from the file is bounds-checked: the input is untrusted.
#include "common/module_file.hpp"

#include <elf.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "common/files.hpp"
#include "common/signing.hpp"
#include "uni/detail/module_abi.hpp"

namespace uni {

namespace {

class Image {
 public:
  Image(std::string_view data, const std::string& name) : data_(data), name_(name) {}

  template <class T>
  std::optional<T> read(std::uint64_t offset) const {
    if (offset > data_.size() || data_.size() - offset < sizeof(T)) return std::nullopt;
    T value;
    std::memcpy(&value, data_.data() + offset, sizeof(T));
    return value;
  }

  std::optional<std::string_view> range(std::uint64_t offset, std::uint64_t size) const {
    if (offset > data_.size() || data_.size() - offset < size) return std::nullopt;
    return data_.substr(offset, size);
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw ModuleFileError(name_ + " " + what);
  }
  [[noreturn]] void truncated() const { fail("is not a valid ELF file (truncated or corrupt)"); }

 private:
  std::string_view data_;
  const std::string& name_;
};

std::string_view c_string_at(std::string_view table, std::uint64_t offset) {
  if (offset >= table.size()) return {};
  std::string_view rest = table.substr(offset);
  return rest.substr(0, rest.find('\0'));
}

// The section headers of an image, each bounds-checked when read.
class Sections {
 public:
  explicit Sections(const Image& image) : image_(image) {
    header_ = *image.read<Elf64_Ehdr>(0);  // the caller checked the ELF header
    if (header_.e_shentsize != sizeof(Elf64_Shdr)) image.truncated();
    const Elf64_Shdr names_header = at(header_.e_shstrndx);
    auto names = image.range(names_header.sh_offset, names_header.sh_size);
    if (!names) image.truncated();
    names_ = *names;
  }
  std::uint32_t count() const { return header_.e_shnum; }
  Elf64_Shdr at(std::uint32_t index) const {
    auto sh = image_.read<Elf64_Shdr>(header_.e_shoff + std::uint64_t{index} * sizeof(Elf64_Shdr));
    if (!sh || index >= header_.e_shnum) image_.truncated();
    return *sh;
  }
  std::string_view name_of(const Elf64_Shdr& sh) const { return c_string_at(names_, sh.sh_name); }
  std::string_view contents(const Elf64_Shdr& sh) const {
    auto bytes = image_.range(sh.sh_offset, sh.sh_size);
    if (!bytes) image_.truncated();
    return *bytes;
  }
  // The first PROGBITS section of this name, if any.
  std::optional<std::string_view> find(std::string_view name) const {
    for (std::uint32_t i = 0; i < count(); ++i) {
      const Elf64_Shdr sh = at(i);
      if (sh.sh_type == SHT_PROGBITS && name_of(sh) == name) return contents(sh);
    }
    return std::nullopt;
  }

 private:
  const Image& image_;
  Elf64_Ehdr header_;
  std::string_view names_;
};

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    std::size_t at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

}  // namespace

std::string check_module_image(std::string_view data, const std::string& name) {
  Image image(data, name);
  auto header = image.read<Elf64_Ehdr>(0);
  if (data.size() < SELFMAG || std::memcmp(data.data(), ELFMAG, SELFMAG) != 0)
    image.fail("is not an ELF file (not a shared object)");
  if (!header || header->e_ident[EI_CLASS] != ELFCLASS64) image.fail("is not a 64-bit ELF file");
  if (header->e_type != ET_DYN) image.fail("is not a shared object (ELF type is not ET_DYN)");

  // A PIE executable is ET_DYN too; it has an interpreter and cannot be dlopen'ed.
  for (std::uint16_t i = 0; i < header->e_phnum; ++i) {
    auto ph = image.read<Elf64_Phdr>(header->e_phoff + std::uint64_t{i} * header->e_phentsize);
    if (!ph) image.truncated();
    if (ph->p_type == PT_INTERP) image.fail("is an executable, not a shared object");
  }

  const Sections sections(image);
  // One pass over the section headers; the first dynamic symbol table and
  // the first platform section count, so a crafted file with thousands of
  // headers costs a single scan, not one per header.
  bool has_entry = false, seen_dynsym = false, seen_platform = false;
  std::string platform;
  for (std::uint32_t i = 0; i < sections.count(); ++i) {
    const Elf64_Shdr sh = sections.at(i);
    if (!seen_platform && sections.name_of(sh) == UNI_PLATFORM_SECTION &&
        sh.sh_type == SHT_PROGBITS) {
      seen_platform = true;
      platform = std::string(c_string_at(sections.contents(sh), 0));
    }
    if (sh.sh_type != SHT_DYNSYM || seen_dynsym) continue;
    seen_dynsym = true;
    std::string_view strings = sections.contents(sections.at(sh.sh_link));
    std::string_view symbols = sections.contents(sh);
    for (std::uint64_t off = 0; off + sizeof(Elf64_Sym) <= symbols.size();
         off += sizeof(Elf64_Sym)) {
      Elf64_Sym sym;
      std::memcpy(&sym, symbols.data() + off, sizeof(sym));
      if (sym.st_shndx != SHN_UNDEF && ELF64_ST_TYPE(sym.st_info) == STT_FUNC &&
          c_string_at(strings, sym.st_name) == UNI_MODULE_ENTRY_SYMBOL)
        has_entry = true;
    }
  }
  if (!has_entry)
    image.fail("is not a uni module (it does not export " UNI_MODULE_ENTRY_SYMBOL
               "; include <uni/module.hpp> and mark functions with UNI_EXPORT)");
  if (platform.empty())
    image.fail("has no " UNI_PLATFORM_SECTION " section (built with an older uni/module.hpp?)");
  return platform;
}

ModuleExports read_module_exports(std::string_view data, const std::string& name) {
  Image image(data, name);
  if (!image.read<Elf64_Ehdr>(0)) image.truncated();
  std::optional<std::string_view> section = Sections(image).find(UNI_EXPORTS_SECTION);
  ModuleExports out;
  if (!section) return out;
  out.described = true;
  // Records are NUL-terminated; the linker may put NUL padding between them.
  for (std::string_view record : split(*section, '\0')) {
    if (record.empty()) continue;
    std::vector<std::string_view> lines = split(record, '\n');
    if (lines[0] != UNI_EXPORT_RECORD_MAGIC) continue;  // another format version
    if (lines.size() < 4 || lines[1].empty() || lines[2].empty() || lines[3].empty())
      image.fail("has a malformed " UNI_EXPORTS_SECTION " record: '" +
                 std::string(record.substr(0, 200)) + "'");
    ExportDescription e{std::string(lines[1]), std::string(lines[2]), std::string(lines[3]), {}};
    for (std::size_t i = 4; i < lines.size(); ++i) {
      if (lines[i].empty())
        image.fail("has a malformed " UNI_EXPORTS_SECTION " record for " + e.name +
                   ": an empty parameter type");
      e.params.emplace_back(lines[i]);
    }
    out.functions.push_back(std::move(e));
  }
  std::sort(out.functions.begin(), out.functions.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

ModuleFile ModuleFile::load(const std::string& path) {
  ModuleFile file;
  file.path = path;
  try {
    file.bytes = read_file(path);
  } catch (const std::exception& e) {
    throw ModuleFileError(e.what());
  }
  file.platform = check_module_image(file.bytes, path);
  file.hash = ModuleHash::of(file.bytes);
  // Lines for other builds of the module (a .sig not renewed) are skipped.
  if (::access((path + ".sig").c_str(), F_OK) == 0) {
    try {
      file.signatures = signatures_in(read_file(path + ".sig"), file.hash);
    } catch (const std::exception& e) {
      throw ModuleFileError(e.what());
    }
  }
  return file;
}

}  // namespace uni
