// ELF inspection of module files: is it a shared object, does it export the
// uni entry point, what platform tag does its .uni_platform section carry.
// Every offset read from the file is bounds-checked: the input is untrusted.
#include "common/module_file.hpp"

#include <elf.h>

#include <cstring>
#include <optional>

#include "common/files.hpp"
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

  if (header->e_shentsize != sizeof(Elf64_Shdr)) image.truncated();
  auto section = [&](std::uint32_t index) {
    auto sh = image.read<Elf64_Shdr>(header->e_shoff + std::uint64_t{index} * sizeof(Elf64_Shdr));
    if (!sh || index >= header->e_shnum) image.truncated();
    return *sh;
  };
  const Elf64_Shdr names_header = section(header->e_shstrndx);
  auto names = image.range(names_header.sh_offset, names_header.sh_size);
  if (!names) image.truncated();

  // One pass over the section headers; the first dynamic symbol table and
  // the first platform section count, so a crafted file with thousands of
  // headers costs a single scan, not one per header.
  bool has_entry = false, seen_dynsym = false, seen_platform = false;
  std::string platform;
  for (std::uint32_t i = 0; i < header->e_shnum; ++i) {
    const Elf64_Shdr sh = section(i);
    std::string_view section_name = c_string_at(*names, sh.sh_name);
    if (!seen_platform && section_name == UNI_PLATFORM_SECTION && sh.sh_type == SHT_PROGBITS) {
      seen_platform = true;
      auto bytes = image.range(sh.sh_offset, sh.sh_size);
      if (!bytes) image.truncated();
      platform = std::string(c_string_at(*bytes, 0));
    }
    if (sh.sh_type != SHT_DYNSYM || seen_dynsym) continue;
    seen_dynsym = true;
    const Elf64_Shdr strings_header = section(sh.sh_link);
    auto strings = image.range(strings_header.sh_offset, strings_header.sh_size);
    auto symbols = image.range(sh.sh_offset, sh.sh_size);
    if (!strings || !symbols) image.truncated();
    for (std::uint64_t off = 0; off + sizeof(Elf64_Sym) <= symbols->size();
         off += sizeof(Elf64_Sym)) {
      Elf64_Sym sym;
      std::memcpy(&sym, symbols->data() + off, sizeof(sym));
      if (sym.st_shndx != SHN_UNDEF && ELF64_ST_TYPE(sym.st_info) == STT_FUNC &&
          c_string_at(*strings, sym.st_name) == UNI_MODULE_ENTRY_SYMBOL)
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
  return file;
}

}  // namespace uni
